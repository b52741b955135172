package resources

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	write("c.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n")
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "more than once") || !strings.Contains(err.Error(), "c.yaml") {
		t.Errorf("error %v, want one naming the duplicate broker and c.yaml", err)
	}
}

// A Secret reads as the API server would store it: data base64-decoded, stringData merged over
// it (stringData wins), in knative-eventing when it names no namespace.
func TestSecretsMergeStringDataOverData(t *testing.T) {
	dir := t.TempDir()
	yaml := `apiVersion: v1
kind: Secret
metadata:
  name: kafka-auth
data:
  protocol: U0FTTF9QTEFJTlRFWFQ=   # SASL_PLAINTEXT
  user: ZnJvbS1kYXRh               # from-data
  password: cHctZnJvbS1kYXRh       # pw-from-data
stringData:
  password: pw-from-stringdata
---
apiVersion: v1
kind: Secret
metadata: {name: source-auth, namespace: team}
stringData: {user: alice}
`
	if err := os.WriteFile(filepath.Join(dir, "secrets.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, s := range set.Secrets {
		if len(s.StringData) > 0 {
			t.Errorf("secret %s/%s keeps stringData after the merge", s.Namespace, s.Name)
		}
		data := map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
		got[s.Namespace+"/"+s.Name] = data
	}
	want := map[string]map[string]string{
		"knative-eventing/kafka-auth": {"protocol": "SASL_PLAINTEXT", "user": "from-data", "password": "pw-from-stringdata"},
		"team/source-auth":            {"user": "alice"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
}
