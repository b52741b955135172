#!/usr/bin/env bash
# incumbent.sh runs the incumbent — Knative's Kafka broker data plane (the Java receiver and
# dispatcher of knative-extensions/eventing-kafka-broker, the "-loom" entry points its releases
# ship) — as two local JVMs against a real Kafka, so benchmarks can measure it in the same run as
# knkafka.
#
#   hack/incumbent.sh build       build the receiver and dispatcher jars once, into
#                                 $KNKAFKA_CACHE/incumbent-<ref>/ (a no-op when they are there)
#   hack/incumbent.sh home        print that directory, or fail when the jars are not built
#   hack/incumbent.sh config DIR BOOTSTRAP SUBSCRIBER [NAMESPACE/NAME]
#                                 write into DIR what the two Deployments mount: the incumbent's own
#                                 client properties (from its config/ ConfigMap), its logging
#                                 config, empty observability/features directories and a contract
#                                 with one Broker (ingress /NAMESPACE/NAME, topic
#                                 knative-broker-NAMESPACE-NAME on BOOTSTRAP) and one unordered
#                                 Trigger without a filter delivering to SUBSCRIBER
#   hack/incumbent.sh exec receiver|dispatcher DIR [PORT]
#                                 replace this shell with that JVM, configured as its Deployment is
#                                 (environment, JVM flags, memory limit), reading DIR; the receiver
#                                 listens on 127.0.0.1:PORT (default 8080)
#   hack/incumbent.sh start       create the topic (10 partitions), write the config, commit the
#                                 Trigger's consumer group at the topic's start (what the
#                                 controller's offset initialisation does before a Trigger is Ready)
#                                 and start both JVMs in the background; prints
#                                 INCUMBENT_INGRESS=http://127.0.0.1:PORT/NAMESPACE/NAME
#                                 Needs KAFKA_BOOTSTRAP_SERVERS (hack/kafka.sh start prints it) and
#                                 INCUMBENT_SUBSCRIBER (the Trigger's subscriber URL).
#   hack/incumbent.sh stop        stop exactly the JVMs `start` launched
#
# Build inputs: KNKAFKA_INCUMBENT_REF (default knative-v1.23.0, the newest release tag) fetched from
# KNKAFKA_INCUMBENT_GIT (a git URL or a local git directory; default the snapshot under /work/.mirror
# when present, else GitHub); Maven from PATH with Maven Central; a JDK ≥ 21 (the data plane targets
# Java 21), KNKAFKA_INCUMBENT_JAVA_HOME or the newest under /usr/lib/jvm. Tests are skipped, and so
# are the license, coverage and enforcer plugins (they change nothing in the jars).
# The running processes' state lives in $KNKAFKA_INCUMBENT_RUN (default $KNKAFKA_CACHE/run/incumbent).
set -euo pipefail

REF=${KNKAFKA_INCUMBENT_REF:-knative-v1.23.0}
CACHE=${KNKAFKA_CACHE:-$HOME/.cache/knkafka}
HOME_DIR=$CACHE/incumbent-$REF
RUN=${KNKAFKA_INCUMBENT_RUN:-$CACHE/run/incumbent}
MIRROR=/work/.mirror/knative-extensions+eventing-kafka-broker/repo
GIT_SRC=${KNKAFKA_INCUMBENT_GIT:-}
if [ -z "$GIT_SRC" ]; then
  if [ -d "$MIRROR" ]; then GIT_SRC=$MIRROR; else GIT_SRC=https://github.com/knative-extensions/eventing-kafka-broker.git; fi
fi
HERE=$(cd "$(dirname "$0")" && pwd)

log() { echo "[incumbent.sh] $*" >&2; }
die() { log "error: $*"; exit 1; }

# java_home picks a JDK whose major version is at least 21.
java_home() {
  if [ -n "${KNKAFKA_INCUMBENT_JAVA_HOME:-}" ]; then echo "$KNKAFKA_INCUMBENT_JAVA_HOME"; return; fi
  local best="" best_v=0 d v
  for d in /usr/lib/jvm/*/; do
    d=${d%/}
    [ -x "$d/bin/java" ] && [ -f "$d/release" ] || continue
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release")
    if [ -n "$v" ] && [ "$v" -ge 21 ] && [ "$v" -gt "$best_v" ]; then best=$d best_v=$v; fi
  done
  [ -n "$best" ] || die "no JDK 21 or newer under /usr/lib/jvm (set KNKAFKA_INCUMBENT_JAVA_HOME)"
  echo "$best"
}

built() { [ -f "$HOME_DIR/.complete" ]; }

build() {
  if built; then log "already built: $HOME_DIR"; return 0; fi
  command -v mvn >/dev/null || die "mvn not found"
  command -v yq >/dev/null || die "yq not found (reads the incumbent's ConfigMaps)"
  local jh src t0
  jh=$(java_home)
  t0=$(date +%s)
  src=$(mktemp -d "${TMPDIR:-/tmp}/incumbent-src.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$src'" EXIT
  log "fetching $REF from $GIT_SRC"
  git init -q --bare "$src/git"
  git -C "$src/git" fetch -q --depth 1 "$GIT_SRC" "refs/tags/$REF:refs/tags/$REF" ||
    die "cannot fetch $REF from $GIT_SRC"
  mkdir "$src/tree"
  git -C "$src/git" archive "$REF" data-plane control-plane/config/eventing-kafka-broker/200-controller/100-config-logging.yaml |
    tar -x -C "$src/tree"
  log "building receiver-loom and dispatcher-loom with $jh (log: $HOME_DIR.build.log)"
  mkdir -p "$(dirname "$HOME_DIR")"
  if ! (cd "$src/tree/data-plane" && JAVA_HOME=$jh mvn -B -Drelease -DskipTests \
      -Dlicense.skip=true -Dlicense.skipAggregateDownloadLicenses=true -Dlicense.skipAggregateAddThirdParty=true \
      -Djacoco.skip=true -Denforcer.skip=true -pl receiver-loom,dispatcher-loom -am package) >"$HOME_DIR.build.log" 2>&1; then
    tail -40 "$HOME_DIR.build.log" >&2
    die "maven build failed"
  fi
  rm -rf "$HOME_DIR"
  mkdir -p "$HOME_DIR/config"
  cp "$src/tree/data-plane/receiver-loom/target/receiver-loom-1.0-SNAPSHOT.jar" "$HOME_DIR/receiver.jar"
  cp "$src/tree/data-plane/dispatcher-loom/target/dispatcher-loom-1.0-SNAPSHOT.jar" "$HOME_DIR/dispatcher.jar"
  # The client properties are the broker data plane's ConfigMap, as installed.
  local cm=$src/tree/data-plane/config/broker/100-config-kafka-broker-data-plane.yaml f
  for f in producer consumer webclient httpserver; do
    yq -r ".data[\"config-kafka-broker-$f.properties\"]" "$cm" >"$HOME_DIR/config/config-kafka-broker-$f.properties"
    [ -s "$HOME_DIR/config/config-kafka-broker-$f.properties" ] || die "no $f properties in $cm"
  done
  yq -r '.data["config.xml"]' "$src/tree/control-plane/config/eventing-kafka-broker/200-controller/100-config-logging.yaml" >"$HOME_DIR/config/logging.xml"
  cp -r "$src/tree/data-plane/config/broker" "$HOME_DIR/deployments"
  echo "$jh" >"$HOME_DIR/java-home"
  echo "$REF $(git -C "$src/git" rev-parse "$REF^{commit}")" >"$HOME_DIR/source"
  echo $(($(date +%s) - t0)) >"$HOME_DIR/build-seconds"
  touch "$HOME_DIR/.complete"
  log "built in $(cat "$HOME_DIR/build-seconds") s: $HOME_DIR"
}

home() {
  built || die "the incumbent is not built: run hack/incumbent.sh build (looked in $HOME_DIR)"
  echo "$HOME_DIR"
}

# config DIR BOOTSTRAP SUBSCRIBER [NS/NAME]
config() {
  [ $# -ge 3 ] || die "usage: config DIR BOOTSTRAP SUBSCRIBER [NAMESPACE/NAME]"
  home >/dev/null
  local dir=$1 bootstrap=$2 subscriber=$3 ref=${4:-bench/incumbent}
  local ns=${ref%%/*} name=${ref#*/}
  mkdir -p "$dir/observability" "$dir/features" "$dir/contract"
  cp "$HOME_DIR"/config/* "$dir/"
  # The contract as the controller would write it for one Broker and one Trigger (JSON, which is
  # what the data plane parses); written aside and renamed, as a ConfigMap volume swaps it.
  jq -n --arg bootstrap "$bootstrap" --arg sub "$subscriber" --arg ns "$ns" --arg name "$name" '{
    generation: 1,
    resources: [{
      uid: "broker-\($ns)-\($name)",
      topics: ["knative-broker-\($ns)-\($name)"],
      bootstrapServers: $bootstrap,
      ingress: {path: "/\($ns)/\($name)"},
      egressConfig: {},
      absentAuth: {},
      reference: {uuid: "broker-\($ns)-\($name)", namespace: $ns, name: $name, kind: "Broker", groupVersion: "eventing.knative.dev/v1"},
      egresses: [{
        consumerGroup: "knative-trigger-\($ns)-\($name)-trigger",
        destination: $sub,
        uid: "trigger-\($ns)-\($name)",
        deliveryOrder: "UNORDERED",
        reference: {uuid: "trigger-\($ns)-\($name)", namespace: $ns, name: "\($name)-trigger", kind: "Trigger", groupVersion: "eventing.knative.dev/v1"}
      }]
    }]
  }' >"$dir/contract/data.tmp"
  mv "$dir/contract/data.tmp" "$dir/contract/data"
}

# exec ROLE DIR [PORT]: the JVM replaces this shell, so whoever started us holds its PID.
exec_role() {
  [ $# -ge 2 ] || die "usage: exec receiver|dispatcher DIR [PORT]"
  home >/dev/null
  local role=$1 dir=$2 port=${3:-8080} jh
  jh=$(cat "$HOME_DIR/java-home")
  local common=(
    SERVICE_NAMESPACE=knative-eventing
    PRODUCER_CONFIG_FILE_PATH="$dir/config-kafka-broker-producer.properties"
    DATA_PLANE_CONFIG_FILE_PATH="$dir/contract/data"
    METRICS_PUBLISH_QUANTILES=false METRICS_JVM_ENABLED=false
    CONFIG_OBSERVABILITY_PATH="$dir/observability"
    HTTP2_DISABLE=true WAIT_STARTUP_SECONDS=8
  )
  case $role in
    receiver)
      # The receiver's Deployment sets no memory limit, so its JVM sizes itself from the machine.
      exec env "${common[@]}" SERVICE_NAME=kafka-broker-receiver \
        INGRESS_PORT="$port" INGRESS_TLS_PORT=0 \
        HTTPSERVER_CONFIG_FILE_PATH="$dir/config-kafka-broker-httpserver.properties" \
        LIVENESS_PROBE_PATH=/healthz READINESS_PROBE_PATH=/readyz CONFIG_FEATURES_PATH="$dir/features" \
        JAVA_TOOL_OPTIONS="-XX:+CrashOnOutOfMemoryError" \
        "$jh/bin/java" --enable-preview -Dlogback.configurationFile="$dir/logging.xml" -jar "$HOME_DIR/receiver.jar"
      ;;
    dispatcher)
      # The dispatcher's StatefulSet limits memory to 1000Mi and sizes the heap at 70 % of it;
      # MaxRAM stands in for the container's limit.
      exec env "${common[@]}" SERVICE_NAME=kafka-broker-dispatcher \
        CONSUMER_CONFIG_FILE_PATH="$dir/config-kafka-broker-consumer.properties" \
        WEBCLIENT_CONFIG_FILE_PATH="$dir/config-kafka-broker-webclient.properties" \
        EGRESSES_INITIAL_CAPACITY=20 INSTANCE_ID=kafka-broker-dispatcher-0 \
        JAVA_TOOL_OPTIONS="-XX:+CrashOnOutOfMemoryError -XX:MaxRAM=1000m -XX:InitialRAMPercentage=70.0 -XX:MinRAMPercentage=70.0 -XX:MaxRAMPercentage=70.0" \
        "$jh/bin/java" --enable-preview -Dlogback.configurationFile="$dir/logging.xml" -jar "$HOME_DIR/dispatcher.jar"
      ;;
    *) die "unknown role $role (receiver or dispatcher)" ;;
  esac
}

start() {
  home >/dev/null
  : "${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS (hack/kafka.sh start prints it)}"
  : "${INCUMBENT_SUBSCRIBER:?set INCUMBENT_SUBSCRIBER to the subscriber URL of the Trigger}"
  [ ! -f "$RUN/pids" ] || die "already running ($RUN/pids); stop it first"
  local ref=${INCUMBENT_BROKER:-default/incumbent} port=${INCUMBENT_PORT:-8080}
  local ns=${ref%%/*} name=${ref#*/}
  local topic=knative-broker-$ns-$name group=knative-trigger-$ns-$name-trigger
  mkdir -p "$RUN"
  log "creating topic $topic (10 partitions)"
  bash "$HERE/kafka.sh" tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" \
    --create --if-not-exists --topic "$topic" --partitions 10 --replication-factor 1 >&2
  # The controller initialises a Trigger's offsets before it is Ready; without it the consumer
  # (auto.offset.reset=latest) would skip what arrives before it joins.
  bash "$HERE/kafka.sh" tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" \
    --reset-offsets --group "$group" --topic "$topic" --to-earliest --execute >&2
  config "$RUN/config" "$KAFKA_BOOTSTRAP_SERVERS" "$INCUMBENT_SUBSCRIBER" "$ref"
  setsid bash "$0" exec receiver "$RUN/config" "$port" >"$RUN/receiver.log" 2>&1 &
  echo $! >"$RUN/pids"
  setsid bash "$0" exec dispatcher "$RUN/config" >"$RUN/dispatcher.log" 2>&1 &
  echo $! >>"$RUN/pids"
  local i
  for i in $(seq 1 120); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)" = 200 ]; then
      echo "INCUMBENT_INGRESS=http://127.0.0.1:$port/$ns/$name"
      echo "INCUMBENT_RUN=$RUN"
      return 0
    fi
    sleep 0.5
  done
  tail -20 "$RUN/receiver.log" >&2
  die "the receiver did not answer /readyz within 60 s (logs in $RUN)"
}

stop() {
  [ -f "$RUN/pids" ] || { log "nothing running ($RUN/pids absent)"; return 0; }
  local pid i
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
  done <"$RUN/pids"
  while read -r pid; do
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done <"$RUN/pids"
  rm -f "$RUN/pids"
  log "stopped"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
  build) build ;;
  home) home ;;
  config) config "$@" ;;
  exec) exec_role "$@" ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 build|home|config|exec|start|stop (see the header)" >&2; exit 2 ;;
esac
