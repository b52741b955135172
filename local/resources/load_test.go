package resources

import (
	"errors"
	"strings"
	"testing"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

func TestLoadReadsEveryKind(t *testing.T) {
	set, err := Load("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Brokers) != 1 || len(set.Triggers) != 1 || len(set.Channels) != 1 || len(set.Subscriptions) != 1 || len(set.ConfigMaps) != 1 {
		t.Fatalf("got %d brokers, %d triggers, %d channels, %d subscriptions, %d configmaps; want one of each",
			len(set.Brokers), len(set.Triggers), len(set.Channels), len(set.Subscriptions), len(set.ConfigMaps))
	}
	ch := set.Channels[0]
	if ch.Namespace != "default" || ch.Spec.NumPartitions != 3 || ch.Spec.ReplicationFactor != 1 {
		t.Errorf("channel not defaulted: namespace %q, spec %+v", ch.Namespace, ch.Spec)
	}
	if set.Triggers[0].Spec.Filter.Attributes["type"] != "order.created" {
		t.Errorf("trigger filter lost: %+v", set.Triggers[0].Spec.Filter)
	}
	if _, ok := set.ConfigMap("knative-eventing", "kafka-broker-config"); !ok {
		t.Error("ConfigMap lookup failed")
	}
	again, err := Load("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	if set.Subscriptions[0].UID == "" || again.Subscriptions[0].UID != set.Subscriptions[0].UID {
		t.Errorf("UIDs are not stable across loads: %q then %q", set.Subscriptions[0].UID, again.Subscriptions[0].UID)
	}
}

func TestLoadNamesEveryBadFileAndKeepsTheGoodOnes(t *testing.T) {
	set, err := Load("testdata/bad")
	if err == nil {
		t.Fatal("no error for a folder with a broken and an invalid file")
	}
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v carries no FileError", err)
	}
	for _, want := range []string{"broken.yaml", "invalid-trigger.yaml", "subscriber"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if len(set.Brokers) != 1 {
		t.Fatalf("the good file was not read: %d brokers", len(set.Brokers))
	}
	if c := set.Brokers[0].Annotations[eventingv1.BrokerClassAnnotationKey]; c != "Kafka" {
		t.Errorf("a broker without a class got class %q, want Kafka", c)
	}
}

func TestLoadRejectsDuplicatesAndUnknownKinds(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := writeFile(dir+"/"+name, body); err != nil {
			t.Fatal(err)
		}
	}
	b := "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: twice\n"
	write("a.yaml", b)
	write("b.yaml", b)
	write("c.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n")
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "more than once") || !strings.Contains(err.Error(), "c.yaml") {
		t.Errorf("error %v, want one naming the duplicate broker and c.yaml", err)
	}
}
