package contract

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzUnmarshal: the data plane decodes whatever is in the ConfigMaps; it must refuse or accept,
// never panic, and what it accepts must survive a round trip unchanged.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":1,"generation":3,"resources":[{"uid":"u","kind":"Broker","topic":"t","bootstrapServers":["a:1"],"egresses":[{"uid":"e","consumerGroup":"g","destination":"http://x","delivery":{"retry":2,"backoffDelay":"1s"},"filter":{"filters":[{"not":{}}]}}]}]}`))
	f.Add([]byte(`{"schemaVersion":1,"resources":[{"uid":"s","kind":"KafkaSource","topics":["a","b"],"source":{"eventSource":"/apis/v1/namespaces/n/kafkasources/s","keyType":"int"},"egresses":[{"uid":"s","initialOffset":"earliest"}]}]}`))
	f.Add([]byte(`{"schemaVersion":2}`))
	f.Add([]byte(`{"resources":[{"egresses":[{"delivery":{"timeout":12345}}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Unmarshal(b)
		if err != nil {
			return
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatalf("Marshal of an accepted contract: %v", err)
		}
		again, err := Unmarshal(out)
		if err != nil {
			t.Fatalf("Unmarshal of our own encoding: %v", err)
		}
		// Empty and absent lists encode alike (omitempty), so they compare alike.
		if diff := cmp.Diff(c, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip changed the contract (-first +second):\n%s", diff)
		}
	})
}
