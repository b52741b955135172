#!/usr/bin/env bash
# kafka.sh installs and runs a real Apache Kafka (KRaft) on 127.0.0.1 for tests and local use.
#
#   hack/kafka.sh install            fetch the broker jars from Maven Central into the cache
#   hack/kafka.sh start [--nodes N]  start N (1 or 3) combined broker/controller nodes; prints
#                                    shell assignments (KAFKA_BOOTSTRAP_SERVERS=..., KAFKA_VERSION=...)
#   hack/kafka.sh start --secured DIR
#                                    start one node that also has secured listeners, set up from the
#                                    PEM files and PLAIN users in DIR (see check_secured_dir below); prints
#                                    KAFKA_<LISTENER>_SERVERS=... for each of them as well
#   hack/kafka.sh stop               stop exactly the processes `start` launched and remove their data
#   hack/kafka.sh status             print the running cluster's bootstrap address, or fail
#   hack/kafka.sh version            print the pinned Kafka version
#   hack/kafka.sh tool CLASS ARGS... run one of Kafka's own command-line tools from the same jars, by
#                                    main class (kafka.tools.ConsoleProducer is kafka-console-producer);
#                                    stdin, stdout and exit code are the tool's, its logs go to stderr
#
# KNKAFKA_KAFKA_JMX=1 opens each node's JMX on a free 127.0.0.1 port (no authentication, no TLS: for
# benchmarks only), written to node-N/jmx-port and printed by start as KAFKA_JMX_PORTS=...; it is off
# by default.
#
# Everything lives under $KNKAFKA_CACHE (default ~/.cache/knkafka): jars in kafka-<version>/lib, a
# running cluster's config, data, logs and pids in $KNKAFKA_KAFKA_RUN (default $KNKAFKA_CACHE/run/kafka).
# Nothing is printed to the terminal but the assignments and progress on stderr; broker logs go to files.
set -euo pipefail

KAFKA_VERSION=${KAFKA_VERSION:-3.9.1}
SCALA_VERSION=2.13
CACHE=${KNKAFKA_CACHE:-$HOME/.cache/knkafka}
LIB=$CACHE/kafka-$KAFKA_VERSION/lib
RUN=${KNKAFKA_KAFKA_RUN:-$CACHE/run/kafka}
JAVA=${KAFKA_JAVA:-java}

log() { echo "[kafka.sh] $*" >&2; }
die() { log "error: $*"; exit 1; }

install() {
  if [ -f "$LIB/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed to fetch Kafka from Maven Central"
  command -v "$JAVA" >/dev/null || die "java not found: a JDK 17+ is needed to run Kafka"
  local dir=$CACHE/kafka-$KAFKA_VERSION
  mkdir -p "$dir"
  log "fetching org.apache.kafka $KAFKA_VERSION jars from Maven Central into $LIB"
  cat >"$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.knkafka</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_$SCALA_VERSION</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$LIB"
  if ! mvn -q -B -f "$dir/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$LIB" -DincludeScope=runtime >"$dir/mvn.log" 2>&1; then
    tail -20 "$dir/mvn.log" >&2
    die "mvn dependency:copy-dependencies failed (log: $dir/mvn.log)"
  fi
  ls "$LIB"/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar >/dev/null || die "broker jar missing after download"
  touch "$LIB/.complete"
}

# pick_port sets PORT to a port nothing listens on, never one it already picked in this run (the
# kernel may hand out a port again once its probe socket closed). Call it in this shell, not in
# $(...), so that it remembers; free_port prints one for the callers that need no such care.
PICKED_PORTS=" "
pick_port() {
  while :; do
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    case $PICKED_PORTS in *" $PORT "*) continue ;; esac
    PICKED_PORTS+="$PORT "
    return
  done
}
free_port() {
  pick_port
  echo "$PORT"
}

# write_node_config N PORT CPORT VOTERS DIR writes one node's server.properties and log4j config.
write_node_config() {
  local id=$1 port=$2 cport=$3 voters=$4 dir=$5 rf=$6
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.flush.interval.messages=9223372036854775807
EOF
  cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$dir/logs/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
EOF
}

java_opts() {
  local dir=$1 heap=$2
  echo "-Xms${heap} -Xmx${heap} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError" \
       "-Djava.awt.headless=true -Dlog4j.configuration=file:$dir/log4j.properties -Dkafka.logs.dir=$dir/logs"
  if [ -f "$dir/jmx-port" ]; then
    local jp; jp=$(cat "$dir/jmx-port")
    echo "-Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.host=127.0.0.1" \
         "-Dcom.sun.management.jmxremote.port=$jp -Dcom.sun.management.jmxremote.rmi.port=$jp" \
         "-Dcom.sun.management.jmxremote.authenticate=false -Dcom.sun.management.jmxremote.ssl=false" \
         "-Djava.rmi.server.hostname=127.0.0.1"
  fi
}

start() {
  local nodes=1 secured=""
  while [ $# -gt 0 ]; do
    case $1 in
      --nodes) nodes=$2; shift 2 ;;
      --secured) secured=${2:-}; [ -n "$secured" ] || die "--secured needs a directory"; shift 2 ;;
      *) die "unknown flag $1" ;;
    esac
  done
  [ "$nodes" = 1 ] || [ "$nodes" = 3 ] || die "--nodes must be 1 or 3"
  [ -z "$secured" ] || [ "$nodes" = 1 ] || die "--secured starts one node only"
  [ -z "$secured" ] || check_secured_dir "$secured"
  if [ -f "$RUN/bootstrap" ] && status >/dev/null 2>&1; then
    die "a cluster is already running from $RUN ($(cat "$RUN/bootstrap")); run '$0 stop' first"
  fi
  install
  command -v "$JAVA" >/dev/null || die "java ($JAVA) not found: a JDK 17+ is needed to run Kafka"
  rm -rf "$RUN"
  mkdir -p "$RUN"
  local cp="$LIB/*" heap=512m rf=1
  [ "$nodes" = 3 ] && heap=384m && rf=3
  local ports=() cports=() voters="" i
  for i in $(seq 1 "$nodes"); do
    pick_port; ports+=("$PORT")
    pick_port; cports+=("$PORT")
    voters+="${voters:+,}$i@127.0.0.1:${cports[$((i-1))]}"
  done
  local cluster_id
  cluster_id=$("$JAVA" -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
  [ -n "$cluster_id" ] || die "could not generate a cluster id with kafka.tools.StorageTool"
  local bootstrap=""
  for i in $(seq 1 "$nodes"); do
    local dir=$RUN/node-$i
    write_node_config "$i" "${ports[$((i-1))]}" "${cports[$((i-1))]}" "$voters" "$dir" "$rf"
    [ -z "$secured" ] || secure_node_config "$secured" "$dir" "${ports[0]}" "${cports[0]}"
    if [ "${KNKAFKA_KAFKA_JMX:-0}" = 1 ]; then free_port >"$dir/jmx-port"; fi
    local scram=()
    [ -z "$secured" ] || mapfile -t scram < <(scram_format_args "$secured")
    "$JAVA" -cp "$cp" -Dlog4j.configuration="file:$dir/log4j.properties" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$dir/server.properties" "${scram[@]}" >"$dir/logs/format.log" 2>&1 \
      || { cat "$dir/logs/format.log" >&2; die "formatting node $i failed"; }
    # shellcheck disable=SC2046
    nohup "$JAVA" $(java_opts "$dir" "$heap") -cp "$cp" kafka.Kafka "$dir/server.properties" \
      >"$dir/logs/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    bootstrap+="${bootstrap:+,}127.0.0.1:${ports[$((i-1))]}"
  done
  echo "$bootstrap" >"$RUN/bootstrap"
  echo "$KAFKA_VERSION" >"$RUN/version"
  log "starting Kafka $KAFKA_VERSION ($nodes node(s)) at $bootstrap; logs in $RUN/node-*/logs"
  local deadline=$((SECONDS + 120))
  for i in $(seq 1 "$nodes"); do
    local dir=$RUN/node-$i
    until grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null; do
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        tail -30 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2 2>/dev/null || true
        stop >/dev/null 2>&1 || true
        die "Kafka node $i exited during start-up"
      fi
      if [ $SECONDS -ge $deadline ]; then
        tail -30 "$dir/logs/server.log" >&2 2>/dev/null || true
        stop >/dev/null 2>&1 || true
        die "Kafka node $i did not start within 120 s"
      fi
      sleep 0.3
    done
  done
  log "Kafka $KAFKA_VERSION is up at $bootstrap"
  echo "KAFKA_BOOTSTRAP_SERVERS=$bootstrap"
  echo "KAFKA_VERSION=$KAFKA_VERSION"
  echo "KAFKA_NODES=$nodes"
  if [ "${KNKAFKA_KAFKA_JMX:-0}" = 1 ]; then
    local jmx=""
    for i in $(seq 1 "$nodes"); do jmx+="${jmx:+,}$(cat "$RUN/node-$i/jmx-port")"; done
    echo "KAFKA_JMX_PORTS=$jmx"
  fi
  [ ! -f "$RUN/listeners" ] || cat "$RUN/listeners"
}

# The secured node's listeners beside PLAINTEXT (inter-broker, and the tests' own set-up) and
# CONTROLLER, by name; OTHER_HOST exists only when DIR has other-host.pem.
#   SASL_PLAINTEXT  SASL_PLAINTEXT, mechanisms PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
#   SSL             SSL, one-way (no client certificate asked for)
#   MTLS            SSL with ssl.client.auth=required: a client certificate signed by DIR/ca.crt
#   SASL_SSL        SASL_SSL, the same mechanisms, no client certificate asked for
#   OTHER_HOST      SSL, one-way, presenting DIR/other-host.pem: a certificate that names some other host
SECURED_LISTENERS="SASL_PLAINTEXT SSL MTLS SASL_SSL"

# check_secured_dir DIR fails unless DIR holds what start --secured reads:
#   ca.crt          PEM CA certificate(s): the truststore, which signs the client certificates MTLS accepts
#   broker.pem      the broker's unencrypted PKCS #8 private key and its PEM certificate chain (leaf
#                   first), for 127.0.0.1: the keystore of every TLS listener but OTHER_HOST
#   plain.users     the PLAIN users, one "NAME PASSWORD" a line, both of [A-Za-z0-9._-]
#   scram.users     (optional) SCRAM users, in the same form, written into the cluster's metadata
#                   for both SCRAM-SHA-256 and SCRAM-SHA-512 when the node is formatted
#                   (kafka-storage format --add-scram); change them later with Kafka's ConfigCommand
#                   (hack/kafka.sh tool kafka.admin.ConfigCommand --alter --entity-type users
#                   --entity-name NAME --add-config 'SCRAM-SHA-512=[password=...]', a mechanism a run)
#   other-host.pem  (optional) a key and chain like broker.pem whose certificate names another host
check_secured_dir() {
  local d=$1 f
  for f in ca.crt broker.pem plain.users; do
    [ -s "$d/$f" ] || die "--secured $d: $f is missing or empty"
  done
  grep -q -- "-----BEGIN PRIVATE KEY-----" "$d/broker.pem" || die "--secured $d: broker.pem has no unencrypted PKCS #8 key"
  grep -q -- "-----BEGIN CERTIFICATE-----" "$d/broker.pem" || die "--secured $d: broker.pem has no certificate"
  for f in plain.users scram.users; do
    [ -f "$d/$f" ] || continue
    if grep -qvE '^[A-Za-z0-9._-]+ [A-Za-z0-9._-]+$' "$d/$f"; then
      die "--secured $d: every line of $f must be NAME PASSWORD, of [A-Za-z0-9._-]"
    fi
  done
}

# scram_format_args DIR prints the StorageTool arguments, one a line, that add DIR/scram.users.
scram_format_args() {
  [ -f "$1/scram.users" ] || return 0
  local user pass m
  while read -r user pass; do
    for m in SCRAM-SHA-256 SCRAM-SHA-512; do
      printf '%s\n' --add-scram "$m=[name=$user,password=$pass]"
    done
  done <"$1/scram.users"
}

# secure_node_config DIR NODEDIR PORT CPORT rewrites the listener settings of
# NODEDIR/server.properties (written by write_node_config with PLAINTEXT on PORT and CONTROLLER on
# CPORT) for the secured listeners, with the PEM files of DIR copied into NODEDIR/tls and its PLAIN
# users in the JAAS settings, and records the listeners' addresses in $RUN/listeners.
secure_node_config() {
  local src=$1 dir=$2 port=$3 cport=$4 tls=$2/tls name lc p
  mkdir -p "$tls"
  chmod 700 "$tls"
  cp "$src/ca.crt" "$src/broker.pem" "$tls/"
  local names=$SECURED_LISTENERS
  if [ -f "$src/other-host.pem" ]; then
    cp "$src/other-host.pem" "$tls/"
    names+=" OTHER_HOST"
  fi
  local listeners="PLAINTEXT://127.0.0.1:$port" map="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  : >"$RUN/listeners"
  for name in $names; do
    pick_port; p=$PORT
    listeners+=",$name://127.0.0.1:$p"
    case $name in
      MTLS|OTHER_HOST) map+=",$name:SSL" ;;
      *) map+=",$name:$name" ;;
    esac
    echo "KAFKA_${name}_SERVERS=127.0.0.1:$p" >>"$RUN/listeners"
  done
  sed -i -e '/^listeners=/d' -e '/^advertised.listeners=/d' -e '/^listener.security.protocol.map=/d' "$dir/server.properties"
  # PLAIN users as the JAAS options user_NAME="PASSWORD" of PlainLoginModule.
  local plain="org.apache.kafka.common.security.plain.PlainLoginModule required" user pass
  while read -r user pass; do plain+=" user_$user=\"$pass\""; done <"$src/plain.users"
  plain+=";"
  local scram="org.apache.kafka.common.security.scram.ScramLoginModule required;"
  {
    echo "listeners=$listeners,CONTROLLER://127.0.0.1:$cport"
    echo "advertised.listeners=${listeners}"
    echo "listener.security.protocol.map=$map"
    echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    for lc in sasl_plaintext sasl_ssl; do
      echo "listener.name.$lc.plain.sasl.jaas.config=$plain"
      echo "listener.name.$lc.scram-sha-256.sasl.jaas.config=$scram"
      echo "listener.name.$lc.scram-sha-512.sasl.jaas.config=$scram"
    done
    # PEM stores (KIP-651): the key is unencrypted, so no ssl.key.password; PEM stores take no
    # store password either.
    echo "ssl.keystore.type=PEM"
    echo "ssl.keystore.location=$tls/broker.pem"
    echo "ssl.truststore.type=PEM"
    echo "ssl.truststore.location=$tls/ca.crt"
    echo "ssl.client.auth=none"
    echo "listener.name.mtls.ssl.client.auth=required"
    if [ -f "$tls/other-host.pem" ]; then
      echo "listener.name.other_host.ssl.keystore.type=PEM"
      echo "listener.name.other_host.ssl.keystore.location=$tls/other-host.pem"
    fi
  } >>"$dir/server.properties"
  chmod 600 "$dir/server.properties"
}

status() {
  [ -f "$RUN/bootstrap" ] || { log "no cluster recorded in $RUN"; return 1; }
  local pidf ok=0
  for pidf in "$RUN"/node-*/pid; do
    [ -f "$pidf" ] || continue
    kill -0 "$(cat "$pidf")" 2>/dev/null && ok=1 || { log "node $(dirname "$pidf") is not running"; return 1; }
  done
  [ $ok = 1 ] || return 1
  echo "KAFKA_BOOTSTRAP_SERVERS=$(cat "$RUN/bootstrap")"
  echo "KAFKA_VERSION=$(cat "$RUN/version")"
  [ ! -f "$RUN/listeners" ] || cat "$RUN/listeners"
}

stop() {
  [ -d "$RUN" ] || return 0
  local pidf pid
  for pidf in "$RUN"/node-*/pid; do
    [ -f "$pidf" ] || continue
    pid=$(cat "$pidf")
    # Only signal the pid if it is still the java process we started (pids can be reused).
    if kill -0 "$pid" 2>/dev/null && grep -q "kafka.Kafka" "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
  done
  local deadline=$((SECONDS + 30))
  for pidf in "$RUN"/node-*/pid; do
    [ -f "$pidf" ] || continue
    pid=$(cat "$pidf")
    while kill -0 "$pid" 2>/dev/null && grep -q "kafka.Kafka" "/proc/$pid/cmdline" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then kill -9 "$pid" 2>/dev/null || true; break; fi
      sleep 0.2
    done
  done
  rm -rf "$RUN"
  log "stopped"
}

# kill_node N / start_node N stop and restart one node of a running cluster (fault tests).
kill_node() {
  local pid; pid=$(cat "$RUN/node-$1/pid")
  kill -9 "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

start_node() {
  local dir=$RUN/node-$1 heap=512m
  [ -f "$RUN/node-2/pid" ] && heap=384m
  # shellcheck disable=SC2046
  nohup "$JAVA" $(java_opts "$dir" "$heap") -cp "$LIB/*" kafka.Kafka "$dir/server.properties" \
    >>"$dir/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
}

# tool CLASS ARGS... runs a Kafka command-line tool the way bin/kafka-run-class.sh does, with the
# tools' logging (warnings and errors on stderr). It execs java, so the caller's pid is the tool's
# and a timeout that kills it leaves nothing behind.
tool() {
  [ $# -ge 1 ] || die "usage: $0 tool CLASS [ARGS...]"
  install
  local conf=$CACHE/kafka-$KAFKA_VERSION/tools-log4j.properties
  if [ ! -f "$conf" ]; then
    printf '%s\n' 'log4j.rootLogger=WARN, stderr' \
      'log4j.appender.stderr=org.apache.log4j.ConsoleAppender' \
      'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout' \
      'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n' \
      'log4j.appender.stderr.Target=System.err' >"$conf.tmp.$$"
    mv -f "$conf.tmp.$$" "$conf"
  fi
  local class=$1
  shift
  # A small heap and the C1 compiler only: the tools are short-lived, and start about twice as fast.
  exec "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$conf" -cp "$LIB/*" "$class" "$@"
}

case ${1:-} in
  install) install ;;
  tool) shift; tool "$@" ;;
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  version) echo "$KAFKA_VERSION" ;;
  kill-node) kill_node "$2" ;;
  start-node) start_node "$2" ;;
  *) echo "usage: $0 install|start [--nodes 1|3 | --secured DIR]|stop|status|version|tool CLASS [ARGS...]|kill-node N|start-node N" >&2; exit 2 ;;
esac
