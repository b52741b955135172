#!/usr/bin/env bash
# run.sh is `make run`: the all-in-one quickstart. Until the local mode lands (knkafka run with a
# resources folder and an embedded Kafka), it starts the data plane against a real Kafka from
# hack/kafka.sh with the example contract, so events can already be posted and delivered.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "make run: the all-in-one 'knkafka run' (no Kubernetes, embedded Kafka) is not built yet."
echo "Today you can run the data plane against a real Kafka:"
echo "  eval \"\$(hack/kafka.sh start)\""
echo "  # create the topic knative-broker-default-default with any Kafka client, then:"
echo "  bin/knkafka-dataplane --contract examples/contract.json --bootstrap-servers \$KAFKA_BOOTSTRAP_SERVERS \\"
echo "      --ingress-addr 127.0.0.1:8080 --admin-addr 127.0.0.1:9090"
echo "  curl -i http://127.0.0.1:8080/default/default -H 'Ce-Specversion: 1.0' -H 'Ce-Id: 1' \\"
echo "      -H 'Ce-Source: /demo' -H 'Ce-Type: demo' -H 'Content-Type: application/json' -d '{\"hello\":\"world\"}'"
