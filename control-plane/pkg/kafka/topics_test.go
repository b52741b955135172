package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"knkafka.dev/control-plane/pkg/kafka"
	"knkafka.dev/test/kafkatest"
)

// The same behaviour is checked against real Kafka and kfake: the fake keeps the unit tests fast,
// the real broker keeps the fake honest.

func TestAdminRealKafka(t *testing.T) { testAdmin(t, kafkatest.Bootstrap(t)) }

func TestAdminFake(t *testing.T) { testAdmin(t, kafkatest.Fake(t)) }

func testAdmin(t *testing.T, servers []string) {
	clients := kafka.NewClients(nil)
	t.Cleanup(clients.Close)
	admin, err := clients.Admin(servers, nil)
	if err != nil {
		t.Fatal(err)
	}
	adm := kafkatest.Admin(t, servers)

	t.Run("ensure creates the topic with its partitions and replication and configs", func(t *testing.T) {
		ctx := timeout(t)
		name := kafkatest.TopicName(t)
		t.Cleanup(func() { _ = admin.DeleteTopic(context.Background(), name) })
		spec := kafka.TopicSpec{Name: name, Partitions: 3, ReplicationFactor: 1,
			Config: map[string]*string{"retention.ms": kadm.StringPtr("3600000")}}
		if err := admin.EnsureTopic(ctx, spec); err != nil {
			t.Fatalf("EnsureTopic: %v", err)
		}
		got := describe(ctx, t, adm, name, "retention.ms")
		want := topicFacts{Partitions: 3, Replicas: 1, Config: map[string]string{"retention.ms": "3600000"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("topic (-want +got):\n%s", diff)
		}
		if err := admin.EnsureTopic(ctx, spec); err != nil {
			t.Errorf("EnsureTopic again = %v, want nil (idempotent)", err)
		}
		fewer := spec
		fewer.Partitions = 1
		if err := admin.EnsureTopic(ctx, fewer); err != nil {
			t.Errorf("EnsureTopic with fewer partitions than the topic has = %v, want nil", err)
		}
	})

	t.Run("ensure reports an existing topic with too few partitions", func(t *testing.T) {
		ctx := timeout(t)
		name := kafkatest.TopicName(t)
		t.Cleanup(func() { _ = admin.DeleteTopic(context.Background(), name) })
		if err := admin.EnsureTopic(ctx, kafka.TopicSpec{Name: name, Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
		err := admin.EnsureTopic(ctx, kafka.TopicSpec{Name: name, Partitions: 4, ReplicationFactor: 1})
		var pe *kafka.PartitionsError
		if !errors.As(err, &pe) || !kafka.IsPartitionsMismatch(err) {
			t.Fatalf("EnsureTopic = %v, want a *PartitionsError", err)
		}
		if diff := cmp.Diff(&kafka.PartitionsError{Topic: name, Have: 1, Want: 4}, pe); diff != "" {
			t.Errorf("error (-want +got):\n%s", diff)
		}
	})

	t.Run("exists and delete are idempotent", func(t *testing.T) {
		ctx := timeout(t)
		name := kafkatest.TopicName(t)
		assertExists(ctx, t, admin, name, false)
		if err := admin.DeleteTopic(ctx, name); err != nil {
			t.Errorf("DeleteTopic of a missing topic = %v, want nil", err)
		}
		if err := admin.EnsureTopic(ctx, kafka.TopicSpec{Name: name, Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool {
			ok, err := admin.TopicExists(ctx, name)
			return err == nil && ok
		})
		if err := admin.DeleteTopic(ctx, name); err != nil {
			t.Fatalf("DeleteTopic = %v", err)
		}
		eventually(t, func() bool {
			ok, err := admin.TopicExists(ctx, name)
			return err == nil && !ok
		})
	})

	t.Run("delete consumer groups removes committed offsets and ignores unknown groups", func(t *testing.T) {
		ctx := timeout(t)
		topic := kafkatest.TopicName(t)
		t.Cleanup(func() { _ = admin.DeleteTopic(context.Background(), topic) })
		if err := admin.EnsureTopic(ctx, kafka.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
		group := "knative-trigger-" + topic
		var offsets kadm.Offsets
		offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
		eventually(t, func() bool {
			resp, err := adm.CommitOffsets(ctx, group, offsets)
			return err == nil && resp.Error() == nil
		})
		if err := admin.DeleteConsumerGroups(ctx, group, "never-existed-"+topic); err != nil {
			t.Fatalf("DeleteConsumerGroups = %v", err)
		}
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(listed.Groups(), group) {
			t.Errorf("group %q still listed after deletion", group)
		}
		if err := admin.DeleteConsumerGroups(ctx); err != nil {
			t.Errorf("DeleteConsumerGroups() with no groups = %v", err)
		}
	})
}

func TestEnsureTopicRejectsReplicationBeyondBrokersRealKafka(t *testing.T) {
	servers := kafkatest.Bootstrap(t)
	admin := kafka.NewAdmin(kgoClient(t, servers), nil)
	err := admin.EnsureTopic(timeout(t), kafka.TopicSpec{Name: kafkatest.TopicName(t), Partitions: 1, ReplicationFactor: 50})
	if !kafka.IsInvalidTopicSpec(err) {
		t.Fatalf("EnsureTopic with replication 50 = %v, want an invalid topic spec error", err)
	}
}

func TestEnsureTopicClassifiesInducedFailures(t *testing.T) {
	tests := []struct {
		name string
		code int16
		is   func(error) bool
	}{
		{"a policy violation is an invalid spec", kerr.PolicyViolation.Code, kafka.IsInvalidTopicSpec},
		{"an authorization failure is unauthorized", kerr.TopicAuthorizationFailed.Code, kafka.IsUnauthorized},
		{"a request timeout is unavailable", kerr.RequestTimedOut.Code, kafka.IsUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			c.ControlKey(int16(kmsg.CreateTopics), func(kr kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				req := kr.(*kmsg.CreateTopicsRequest)
				resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
				for _, rt := range req.Topics {
					st := kmsg.NewCreateTopicsResponseTopic()
					st.Topic = rt.Topic
					st.ErrorCode = tt.code
					resp.Topics = append(resp.Topics, st)
				}
				return resp, nil, true
			})
			admin := kafka.NewAdmin(kgoClient(t, c.ListenAddrs()), nil)
			err = admin.EnsureTopic(timeout(t), kafka.TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1})
			if err == nil || !tt.is(err) {
				t.Fatalf("EnsureTopic = %v, want it classified", err)
			}
		})
	}
}

func TestDeleteConsumerGroupsReportsNonEmptyGroup(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(int16(kmsg.DeleteGroups), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.DeleteGroupsRequest)
		resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
		for _, g := range req.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = g
			rg.ErrorCode = kerr.NonEmptyGroup.Code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil, true
	})
	admin := kafka.NewAdmin(kgoClient(t, c.ListenAddrs()), nil)
	err = admin.DeleteConsumerGroups(timeout(t), "busy")
	if !kafka.IsGroupNotEmpty(err) {
		t.Fatalf("DeleteConsumerGroups = %v, want a non-empty group error", err)
	}
}

func TestUnreachableClusterIsUnavailable(t *testing.T) {
	clients := kafka.NewClients(nil)
	defer clients.Close()
	admin, err := clients.Admin([]string{"127.0.0.1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = admin.TopicExists(ctx, "any")
	if !kafka.IsUnavailable(err) {
		t.Fatalf("TopicExists on a closed port = %v, want unavailable", err)
	}
}

func TestClientsShareOneClientPerCluster(t *testing.T) {
	servers := kafkatest.Fake(t)
	clients := kafka.NewClients(nil)
	a, err := clients.Get([]string{servers[0], " "}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := clients.Get([]string{" " + servers[0]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a == nil || b == nil {
		t.Fatal("Get returned nil")
	}
	if _, err := clients.Get(nil, nil); err == nil {
		t.Error("Get(nil) succeeded, want an error")
	}
	clients.Close()
	clients.Close()
	if _, err := clients.Get(servers, nil); err == nil {
		t.Error("Get after Close succeeded, want an error")
	}
}

func TestClassifiersIgnoreOtherErrors(t *testing.T) {
	other := fmt.Errorf("wrapped: %w", errors.New("something else"))
	for name, is := range map[string]func(error) bool{
		"IsUnavailable": kafka.IsUnavailable, "IsUnauthorized": kafka.IsUnauthorized,
		"IsInvalidTopicSpec": kafka.IsInvalidTopicSpec, "IsGroupNotEmpty": kafka.IsGroupNotEmpty,
		"IsPartitionsMismatch": kafka.IsPartitionsMismatch,
	} {
		if is(nil) || is(other) {
			t.Errorf("%s matched nil or an unrelated error", name)
		}
	}
	if !kafka.IsUnavailable(fmt.Errorf("x: %w", kerr.BrokerNotAvailable)) {
		t.Error("IsUnavailable(wrapped BrokerNotAvailable) = false")
	}
}

type topicFacts struct {
	Partitions int
	Replicas   int
	Config     map[string]string
}

func describe(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, keys ...string) topicFacts {
	t.Helper()
	// A broker's metadata lags a creation by a moment: wait until it knows the topic.
	var d kadm.TopicDetail
	for {
		details, err := adm.ListTopics(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		d = details[topic]
		if !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s never appeared in metadata: %v", topic, d.Err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	facts := topicFacts{Partitions: len(d.Partitions), Config: map[string]string{}}
	for _, p := range d.Partitions {
		facts.Replicas = len(p.Replicas)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if slices.Contains(keys, c.Key) {
			facts.Config[c.Key] = c.MaybeValue()
		}
	}
	return facts
}

func assertExists(ctx context.Context, t *testing.T, admin *kafka.Admin, name string, want bool) {
	t.Helper()
	got, err := admin.TopicExists(ctx, name)
	if err != nil || got != want {
		t.Fatalf("TopicExists(%q) = %v, %v; want %v", name, got, err, want)
	}
}

func eventually(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func kgoClient(t *testing.T, servers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCreateConfigsSetsMinInSyncReplicas(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name string
		spec kafka.TopicSpec
		want map[string]*string
	}{
		{name: "replication 1 keeps the cluster default", spec: kafka.TopicSpec{ReplicationFactor: 1}, want: nil},
		{name: "replication 2 needs both", spec: kafka.TopicSpec{ReplicationFactor: 2}, want: map[string]*string{kafka.MinInSyncReplicasKey: s("2")}},
		{name: "replication 3 needs two", spec: kafka.TopicSpec{ReplicationFactor: 3, Config: map[string]*string{"retention.ms": s("1")}},
			want: map[string]*string{kafka.MinInSyncReplicasKey: s("2"), "retention.ms": s("1")}},
		{name: "an explicit value wins", spec: kafka.TopicSpec{ReplicationFactor: 3, Config: map[string]*string{kafka.MinInSyncReplicasKey: s("3")}},
			want: map[string]*string{kafka.MinInSyncReplicasKey: s("3")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, kafka.CreateConfigs(tt.spec)); diff != "" {
				t.Errorf("CreateConfigs (-want +got):\n%s", diff)
			}
		})
	}
}

// The topic really is created with it: read back from a three-broker cluster.
func TestEnsureTopicSetsMinInSyncReplicas(t *testing.T) {
	servers := kafkatest.Fake(t, kfake.NumBrokers(3))
	cl, err := kgo.NewClient(kgo.SeedBrokers(servers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := kafkatest.TopicName(t)
	if err := kafka.NewAdmin(cl, nil).EnsureTopic(ctx, kafka.TopicSpec{Name: name, Partitions: 1, ReplicationFactor: 3}); err != nil {
		t.Fatal(err)
	}
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == kafka.MinInSyncReplicasKey {
			if c.MaybeValue() != "2" {
				t.Errorf("%s = %q, want 2", kafka.MinInSyncReplicasKey, c.MaybeValue())
			}
			return
		}
	}
	t.Errorf("topic configs %+v lack %s", rc.Configs, kafka.MinInSyncReplicasKey)
}
