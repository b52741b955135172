#!/usr/bin/env bash
# run.sh is `make run`: the all-in-one quickstart. Until the local mode lands (knkafka run with a
# resources folder and an embedded Kafka), it starts the data plane against a real Kafka from
# hack/kafka.sh with the example contract, so events can already be posted and delivered.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "make run: the all-in-one 'knkafka run' (no Kubernetes, embedded Kafka) is not built yet."
echo "Today you can run the data plane against a real Kafka:"
echo "  eval \"\$(hack/kafka.sh start)\""
echo "  bin/knkafka-dataplane --contract examples/contract.json --bootstrap-servers \$KAFKA_BOOTSTRAP_SERVERS"
