package kafka

import "testing"

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
