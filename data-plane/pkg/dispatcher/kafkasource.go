package dispatcher

import (
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/data-plane/pkg/cekafka"
)

// recordDecoder returns how the egresses of res turn records into events: nil (cekafka.Decode)
// for brokers and channels, whose records are CloudEvents written by our ingress; a KafkaSource's
// cekafka.SourceConverter, which turns any record into an event, for a resource with Source.
func recordDecoder(res *contract.Resource) (func(*kgo.Record) (*event.Event, error), error) {
	if res.Source == nil {
		return nil, nil
	}
	c, err := cekafka.NewSourceConverter(res.Source)
	if err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	return func(r *kgo.Record) (*event.Event, error) { return c.Convert(r), nil }, nil
}

func (p *processor) decodeRecord(r *kgo.Record) (*event.Event, error) {
	if p.decode == nil {
		if sr := sharedOf(r); sr != nil {
			return sr.event()
		}
		return cekafka.Decode(r)
	}
	return p.decode(r)
}
