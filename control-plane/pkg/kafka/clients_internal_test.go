package kafka

import (
	"testing"
	"time"

	"knkafka.dev/kafkaconn"
)

func TestClientsKeyIgnoresOrderAndBlanks(t *testing.T) {
	c := NewClients(nil)
	defer c.Close()
	for _, servers := range [][]string{{"b:9092", "a:9092"}, {" a:9092", "b:9092", ""}, {"a:9092", "b:9092", "a:9092"}} {
		if _, err := c.Get(servers, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(c.clients); got != 1 {
		t.Errorf("cached clients = %d, want 1", got)
	}
}

func TestClientsCloseWhatNoReconcileUsesAnyMore(t *testing.T) {
	c := NewClients(nil)
	defer c.Close()
	now := time.Unix(0, 0)
	c.now = func() time.Time { return now }
	sec := func(password string) *kafkaconn.Security {
		s, err := kafkaconn.ParseSecret(map[string][]byte{"protocol": []byte("SASL_PLAINTEXT"), "user": []byte("u"), "password": []byte(password)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	servers := []string{"a:9092"}
	old, err := c.client(servers, sec("old"))
	if err != nil {
		t.Fatal(err)
	}
	// The password rotates: a new client, the old one kept while it may still be in use.
	now = now.Add(time.Minute)
	if _, err := c.client(servers, sec("new")); err != nil {
		t.Fatal(err)
	}
	if got := len(c.clients); got != 2 {
		t.Fatalf("cached clients right after a rotation = %d, want 2", got)
	}
	// Reconciles keep using the new one; once the old one has been idle for IdleTimeout it goes.
	now = now.Add(c.IdleTimeout)
	if _, err := c.client(servers, sec("new")); err != nil {
		t.Fatal(err)
	}
	if got := len(c.clients); got != 1 {
		t.Fatalf("cached clients after the old one idled %s = %d, want 1", c.IdleTimeout, got)
	}
	if old.Context().Err() == nil {
		t.Error("the idle client is still open, want it closed")
	}
	// A client in use is never closed, however long ago it was created.
	now = now.Add(10 * c.IdleTimeout)
	if _, err := c.client(servers, sec("new")); err != nil {
		t.Fatal(err)
	}
	if got := len(c.clients); got != 1 {
		t.Errorf("cached clients = %d, want the one in use", got)
	}
}
