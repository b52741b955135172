package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractstore"
)

// Scenario 7's size: issue 16 asks that 10,000 Triggers across 100 Brokers fit one dispatcher
// process and one contract publication. Each broker's topic has manyBrokersPartitions partitions
// (fewer than the other scenarios' 10: with 10, one Kafka node on the benchmark machine would host
// 1,000 partitions beside the rest).
const (
	manyBrokers           = 100
	manyBrokersTriggers   = 100
	manyBrokersPartitions = 3
)

// ManyBrokersResult is scenario 7: many Brokers with many Triggers each, idle.
type ManyBrokersResult struct {
	Brokers    int `json:"brokers"`
	Triggers   int `json:"triggers"`
	Partitions int `json:"partitionsPerTopic"`
	// ContractJSONBytes is the contract's size as JSON; PublicationBytes and Shards are what the
	// controller would publish (contract.Split with the contract store's shard size).
	ContractJSONBytes int     `json:"contractJSONBytes"`
	PublicationBytes  int     `json:"publicationBytes"`
	Shards            int     `json:"shards"`
	ReadySeconds      float64 `json:"readySeconds"`
	IdleRSSMiB        float64 `json:"idleRSSMiB"`
	PeakRSSMiB        float64 `json:"peakRSSMiB"`
	IdleCores         float64 `json:"idleCores"`
	Conns             int     `json:"connectionsToKafka"`
	Error             string  `json:"error,omitempty"`
}

// manyBrokersScenario is scenario 7: one dispatcher given 100 Brokers of 100 Triggers each, from
// launch to every Trigger Ready, then idle: Ready time, memory, idle CPU, connections to Kafka,
// and the size of the contract publication.
func (r *runner) manyBrokersScenario(ctx context.Context) error {
	res := &ManyBrokersResult{Brokers: manyBrokers, Triggers: manyBrokers * manyBrokersTriggers, Partitions: manyBrokersPartitions}
	r.res.ManyBrokers = res
	c := &contract.Contract{Generation: 1}
	var uids []string
	for b := range manyBrokers {
		topic := "bench-brokers-" + strconv.Itoa(b)
		if err := r.kafka.createTopic(ctx, topic, manyBrokersPartitions); err != nil {
			return err
		}
		buid := "broker-" + strconv.Itoa(b)
		egs := make([]contract.Egress, manyBrokersTriggers)
		for t := range egs {
			uid := fmt.Sprintf("b%d-t%d", b, t)
			egs[t] = r.egress(uid, "bench-"+uid, r.sink.URL+"/brokers/"+uid, contract.Unordered,
				&contract.Filter{Attributes: map[string]string{"type": fanOutType(t)}})
			uids = append(uids, uid)
		}
		c.Resources = append(c.Resources, r.brokerResource(buid, topic, true, egs...))
	}
	file := r.contractFile("brokers")
	if err := writeContract(file, c); err != nil {
		return err
	}
	if js, err := contract.Marshal(c); err == nil {
		res.ContractJSONBytes = len(js)
	}
	_, shards, err := contract.Split(c, contractstore.MaxShardBytes)
	if err != nil {
		res.Error = err.Error()
		return err
	}
	res.Shards = len(shards)
	for _, s := range shards {
		res.PublicationBytes += len(s.Data)
	}
	dp, err := r.startDataplane("brokers", "dispatcher", file)
	if err != nil {
		return err
	}
	defer dp.Stop()
	if err := dp.waitReady(ctx, 1, nil, uids, 10*time.Minute); err != nil {
		res.Error = err.Error()
		return err
	}
	res.ReadySeconds = round(time.Since(dp.Started).Seconds(), 2)
	sleepCtx(ctx, 3*time.Second)
	u := startUsage(dp.Proc)
	sleepCtx(ctx, 10*time.Second)
	cpu, wall := u.stop()
	res.IdleCores = round(cpu/wall, 3)
	if mem, err := dp.Memory(); err == nil {
		res.IdleRSSMiB, res.PeakRSSMiB = round(mem.RSSMiB, 1), round(mem.PeakMiB, 1)
	}
	res.Conns, _ = kafkaConns(dp.Pid(), r.kafka.listenerPorts())
	r.logf("  %d brokers × %d triggers (%d partitions each): all ready after %.1fs; RSS idle %.0f MiB (peak %.0f), %.3f cores idle, %d connections to Kafka; contract %d bytes JSON, published as %d shard(s) of %d bytes in all",
		manyBrokers, manyBrokersTriggers, manyBrokersPartitions, res.ReadySeconds, res.IdleRSSMiB, res.PeakRSSMiB, res.IdleCores, res.Conns,
		res.ContractJSONBytes, res.Shards, res.PublicationBytes)
	return nil
}
