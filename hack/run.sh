#!/usr/bin/env bash
# run.sh is `make run`: knkafka on this machine with no setup. It starts the event display and
# `knkafka run` on examples/quickstart/ (a Broker with a Trigger, a KafkaChannel with a
# Subscription, both to the display) with an embedded Kafka, waits until every resource is Ready,
# and prints how to send an event. Ctrl-C stops both.
#   RESOURCES=dir   another resources folder           INGRESS_ADDR / ADMIN_ADDR / DISPLAY_ADDR
#   LOG_LEVEL=info  more of knkafka's logs (default warn)   extra arguments go to `knkafka run`
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/knkafka
RESOURCES=${RESOURCES:-examples/quickstart}
INGRESS_ADDR=${INGRESS_ADDR:-127.0.0.1:8080}
ADMIN_ADDR=${ADMIN_ADDR:-127.0.0.1:9090}
DISPLAY_ADDR=${DISPLAY_ADDR:-127.0.0.1:8081}
# The quickstart's KafkaSource reads the embedded Kafka at this port (examples/quickstart/source.yaml).
EMBEDDED_KAFKA_PORT=${EMBEDDED_KAFKA_PORT:-19092}
LOG_LEVEL=${LOG_LEVEL:-warn}
[[ -x $BIN ]] || { echo "run.sh: $BIN is missing; run it through 'make run'" >&2; exit 1; }

pids=()
stop() {
	trap - EXIT INT TERM
	((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT
trap 'echo; echo "stopping..."; exit 0' INT TERM

"$BIN" display --addr "$DISPLAY_ADDR" &
pids+=($!)
"$BIN" run --resources "$RESOURCES" --ingress-addr "$INGRESS_ADDR" --admin-addr "$ADMIN_ADDR" --log-level "$LOG_LEVEL" \
	--embedded-kafka-port "$EMBEDDED_KAFKA_PORT" "$@" &
pids+=($!)

# Ready: /resources lists something and no condition is False or Unknown.
ready=
for _ in $(seq 1 600); do
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || { echo "run.sh: a knkafka process exited; see its output above" >&2; exit 1; }
	done
	if body=$(curl -sf "http://$ADMIN_ADDR/resources" 2>/dev/null) && [[ $body == *'"kind"'* ]] &&
		[[ $body != *'"status":"False"'* && $body != *'"status":"Unknown"'* ]]; then
		ready=1
		break
	fi
	sleep 0.2
done
[[ -n $ready ]] || { echo "run.sh: not Ready within 2 minutes: curl http://$ADMIN_ADDR/resources tells why" >&2; exit 1; }
sleep 0.5 # let knkafka print its all-Ready table first

cat <<MSG

knkafka is Ready. Send an event to the broker (the display prints it here):

  # binary mode
  curl -i http://$INGRESS_ADDR/default/default \\
    -H 'Ce-Specversion: 1.0' -H 'Ce-Id: 1' -H 'Ce-Source: /quickstart' -H 'Ce-Type: greeting' \\
    -H 'Content-Type: application/json' -d '{"hello":"binary"}'

  # structured mode
  curl -i http://$INGRESS_ADDR/default/default -H 'Content-Type: application/cloudevents+json' \\
    -d '{"specversion":"1.0","id":"2","source":"/quickstart","type":"greeting","datacontenttype":"application/json","data":{"hello":"structured"}}'

The channel takes the same requests at http://$INGRESS_ADDR/default/events.

Or write a record to the topic "orders" of the embedded Kafka, which the KafkaSource sends to the
broker as a CloudEvent (any Kafka client works; kcat is 'apt install kcat'):

  echo '{"msg": "hi from kafka"}' | kcat -P -b 127.0.0.1:$EMBEDDED_KAFKA_PORT -t orders

Edit $RESOURCES/*.yaml and the change applies live. Resources: curl http://$ADMIN_ADDR/resources
Ctrl-C stops knkafka and the display.

MSG
wait "${pids[@]}"
