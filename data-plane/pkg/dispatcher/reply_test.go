package dispatcher

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
	"knkafka.dev/data-plane/pkg/delivery"
)

// failingProducer fails every reply produce and counts the attempts.
type failingProducer struct{ attempts int }

func (f *failingProducer) ProduceSync(_ context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	f.attempts++
	out := make(kgo.ProduceResults, len(rs))
	for i, r := range rs {
		out[i] = kgo.ProduceResult{Record: r, Err: errors.New("topic authorization failed")}
	}
	return out
}

// A reply that cannot be produced used to be dropped and its event committed as delivered. It is
// retried as deliveries are, and then the event goes to the dead-letter sink with the error
// extensions naming where its reply could not go.
func TestFailedReplyIsRetriedThenDeadLettered(t *testing.T) {
	subscriber := newSubscriber(t, func(w http.ResponseWriter, r received) int { return replyWith(w, "reply-"+r.id, "reply") })
	dls := newSubscriber(t, nil)
	logger := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	eg := newEgress(t, "replier", subscriber.URL, withReply(contract.Reply{Kind: contract.ReplyTopic}), withDeadLetter(dls.URL),
		withDelivery(contract.Delivery{Retry: 2, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(10 * time.Millisecond)}))
	res := &contract.Resource{UID: "b", Kind: contract.KindBroker, Topic: "broker-topic"}
	replies := &failingProducer{}
	p, err := newProcessor(logger, res, &eg, "test/replier", delivery.NewSender(logger), replies, newMetrics(prometheus.NewRegistry()).forEgress("test/replier"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := cekafka.Encode(newEvent("e1", "order"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.process(context.Background(), rec) {
		t.Fatal("process did not complete the event")
	}
	if replies.attempts != 3 {
		t.Errorf("reply produced %d times, want 3 (first try and 2 retries)", replies.attempts)
	}
	got := dls.received()
	if len(got) != 1 || got[0].id != "e1" {
		t.Fatalf("dead-letter sink received %+v, want the original event e1", got)
	}
	ext := got[0].event.Extensions()
	if ext["knativeerrordest"] != "kafka topic broker-topic" {
		t.Errorf("knativeerrordest = %v, want the reply's topic", ext["knativeerrordest"])
	}
	if ext["knativeerrordata"] == nil {
		t.Error("knativeerrordata is missing; it should carry the produce error")
	}
}
