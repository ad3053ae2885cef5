#!/usr/bin/env bash
# Standalone ZooKeeper from Debian's package on a loopback port with a
# throwaway data dir.
#   zookeeper.sh start NAME PORT   start (or reuse) instance NAME on PORT
#   zookeeper.sh stop NAME         stop it and remove its data
#   zookeeper.sh status NAME       exit 0 when it answers ruok
#   zookeeper.sh halt NAME         stop the process, keep data and port (fault tests)
#   zookeeper.sh resume NAME       start a halted instance again with its data
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

launch() {
  local port; port=$(cat "$dir/port")
  setsid java -Xmx512m -cp "$ZK_JAR:/etc/zookeeper/conf" -Dzookeeper.jmx.log4j.disable=true \
    org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" >>"$dir/zookeeper.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  for _ in $(seq 1 120); do
    ruok "$port" && { log "zookeeper $name up on 127.0.0.1:$port"; exit 0; }
    alive || break
    sleep 0.25
  done
  tail -n 20 "$dir/zookeeper.log" >&2 || true
  die "zookeeper $name failed to start; log: $dir/zookeeper.log"
}

case "$cmd" in
  start)
    port=${3:?usage: zookeeper.sh start NAME PORT}
    if alive && ruok "$(cat "$dir/port")"; then log "zookeeper $name already up on port $(cat "$dir/port")"; exit 0; fi
    [ -f "$ZK_JAR" ] || die "zookeeper is not installed ($ZK_JAR missing): run testbed/install.sh"
    halt
    rm -rf "$dir/data"; mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr,cons
forceSync=no
CFG
    echo "$port" >"$dir/port"
    : >"$dir/zookeeper.log"
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
  *) die "usage: zookeeper.sh start|stop|status|halt|resume NAME [PORT]" ;;
esac
