#!/usr/bin/env bash
# Standalone ZooKeeper from Debian's package on a loopback port with a
# throwaway data dir.
#   zookeeper.sh start NAME PORT   start (or reuse) instance NAME on PORT
#   zookeeper.sh stop NAME         stop it and remove its data
#   zookeeper.sh status NAME       exit 0 when it answers ruok
#   zookeeper.sh halt NAME         stop the process, keep data and port (fault tests)
#   zookeeper.sh resume NAME       start a halted instance again with its data
#   zookeeper.sh start-tls NAME PORT SECURE_PORT CERT_DIR [CLIENT_AUTH]
#       like start, plus a TLS client port SECURE_PORT. CERT_DIR holds PEM files:
#       server.pem (certificate chain), server.key (unencrypted PKCS#8 key) and
#       ca.pem (CAs trusted for client certificates). CLIENT_AUTH: need (the
#       default: clients must present a certificate), want or none.
set -euo pipefail
. "$(dirname "$0")/common.sh"

ZK_JAR=/usr/share/java/zookeeper.jar
cmd=${1:-}; name=${2:-main}
dir="$STATE_DIR/zk-$name"

ruok() {  # ruok PORT: the four-letter health check, with bash's own TCP client
  local reply
  reply=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf ruok >&3 && cat <&3' _ "$1" 2>/dev/null) || return 1
  [ "$reply" = imok ]
}

listening() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

alive() { [ -s "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

halt() {
  if alive; then
    local pid; pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid"
}

# The Netty connection factory that serves TLS needs netty-codec and
# netty-resolver, which Debian's zookeeper.jar manifest leaves off its
# Class-Path (both come with libnetty-java, a dependency of the package).
# slf4j-simple makes handshake failures visible in zookeeper.log.
TLS_CP=/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/slf4j-simple.jar

launch() {
  local port; port=$(cat "$dir/port")
  local cp="$ZK_JAR:/etc/zookeeper/conf" opts=()
  if grep -q '^secureClientPort=' "$dir/zoo.cfg"; then
    cp="$ZK_JAR:$TLS_CP"
    opts=(-Dorg.slf4j.simpleLogger.defaultLogLevel=warn)
  fi
  setsid java -Xmx512m -cp "$cp" "${opts[@]}" -Dzookeeper.jmx.log4j.disable=true \
    org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" >>"$dir/zookeeper.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  # The TLS port is bound after the plain one: wait for both.
  local secure; secure=$(sed -n 's/^secureClientPort=//p' "$dir/zoo.cfg")
  for _ in $(seq 1 120); do
    if ruok "$port" && { [ -z "$secure" ] || listening "$secure"; }; then
      log "zookeeper $name up on 127.0.0.1:$port${secure:+ (TLS on $secure)}"; exit 0
    fi
    alive || break
    sleep 0.25
  done
  tail -n 20 "$dir/zookeeper.log" >&2 || true
  die "zookeeper $name failed to start; log: $dir/zookeeper.log"
}

prepare() {  # prepare PORT: a fresh data dir and the plain part of zoo.cfg
  [ -f "$ZK_JAR" ] || die "zookeeper is not installed ($ZK_JAR missing): run testbed/install.sh"
  halt
  rm -rf "$dir/data"; mkdir -p "$dir/data"
  cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$1
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr,cons
forceSync=no
CFG
  echo "$1" >"$dir/port"
  : >"$dir/zookeeper.log"
}

case "$cmd" in
  start)
    port=${3:?usage: zookeeper.sh start NAME PORT}
    if alive && ruok "$(cat "$dir/port")"; then log "zookeeper $name already up on port $(cat "$dir/port")"; exit 0; fi
    prepare "$port"
    launch
    ;;
  start-tls)
    usage="usage: zookeeper.sh start-tls NAME PORT SECURE_PORT CERT_DIR [need|want|none]"
    port=${3:?$usage}; secure_port=${4:?$usage}; certs=${5:?$usage}; client_auth=${6:-need}
    case "$client_auth" in need|want|none) ;; *) die "$usage" ;; esac
    certs=$(cd "$certs" && pwd) || die "no such directory: $5"
    for f in server.pem server.key ca.pem; do
      [ -s "$certs/$f" ] || die "$certs/$f is missing (PEM)"
    done
    if alive && ruok "$(cat "$dir/port")"; then log "zookeeper $name already up on port $(cat "$dir/port")"; exit 0; fi
    prepare "$port"
    # ZooKeeper's PEM key store is one file with the key and the chain.
    cat "$certs/server.key" "$certs/server.pem" >"$dir/keystore.pem"
    chmod 600 "$dir/keystore.pem"
    cat >>"$dir/zoo.cfg" <<CFG
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
secureClientPort=$secure_port
secureClientPortAddress=127.0.0.1
ssl.keyStore.location=$dir/keystore.pem
ssl.keyStore.type=PEM
ssl.trustStore.location=$certs/ca.pem
ssl.trustStore.type=PEM
ssl.clientAuth=$client_auth
CFG
    launch
    ;;
  halt)
    halt
    ;;
  resume)
    [ -f "$dir/zoo.cfg" ] || die "zookeeper $name was never started"
    alive || launch
    ;;
  stop)
    halt
    rm -rf "$dir"
    ;;
  status)
    alive && ruok "$(cat "$dir/port")"
    ;;
  *) die "usage: zookeeper.sh start|start-tls|stop|status|halt|resume NAME [PORT ...]" ;;
esac
