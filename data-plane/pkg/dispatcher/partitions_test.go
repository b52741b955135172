package dispatcher

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/test/kafkatest"
)

// A partition added to a topic after its group started has no committed offset. Starting it at
// its end — as a new group starts — skipped whatever was written to it before the group noticed
// the partition (up to franz-go's metadata refresh). It now starts at its log start: every record
// on it is newer than the group.
func TestPartitionsAddedLaterStartAtTheirBeginning(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	topic := kafkatest.CreateTopic(t, servers, 1)
	p := newProducer(t, servers)
	produce(t, p, topic, 0, newEvent("before-the-group", "t"))

	sub := newSubscriber(t, nil)
	// A slow metadata refresh, so records reach the new partition before the group sees it.
	d := newDispatcher(t, WithKafkaOpts(func(*contract.Resource) ([]kgo.Opt, error) {
		return []kgo.Opt{kgo.MetadataMaxAge(5 * time.Second)}, nil
	}))
	eg := newEgress(t, "grows", sub.URL)
	apply(t, d, newContract(servers, topic, eg))
	waitReady(t, d, eg.UID)
	produce(t, p, topic, 0, newEvent("p0-after-ready", "t"))
	eventually(t, "the first event delivered", func() bool { return sub.count() == 1 })

	adm := kafkatest.Admin(t, servers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreatePartitions(ctx, 1, topic); err != nil {
		t.Fatalf("adding a partition: %v", err)
	}
	p2 := newProducer(t, servers) // sees the new partition in its first metadata
	for i := range 3 {
		produce(t, p2, topic, 1, newEvent(fmt.Sprintf("p1-%d", i), "t"))
	}
	eventually(t, "the records of the new partition delivered", func() bool { return sub.count() == 4 })
	want := map[string]int{"p0-after-ready": 1, "p1-0": 1, "p1-1": 1, "p1-2": 1}
	if diff := cmp.Diff(want, sub.ids()); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}
