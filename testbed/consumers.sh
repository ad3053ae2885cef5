#!/usr/bin/env bash
# The real ZooKeeper consumer libraries (Apache Curator x-discovery, Spring
# Cloud Zookeeper, Apache Dubbo's interface-level registry), each as a small
# JVM program answering JSON-line requests (testbed/consumers/*/src).
#   consumers.sh build   resolve each client's jars with Maven (into ~/.m2),
#                        copy them and compile the sources into the cache, and
#                        print the cache dir: <dir>/<client>/{lib,classes}
#   consumers.sh path    print that dir without building (it may not exist)
# The cache dir is keyed by a hash of the poms, the sources and this script, so
# a change rebuilds and an unchanged tree returns at once. Installs Maven and a
# JDK with apt-get when they are missing.
set -euo pipefail
. "$(dirname "$0")/common.sh"

SRC="$TESTBED_DIR/consumers"
CLIENTS=(curator spring dubbo)
# Plugin pinned by full coordinates: no plugin-prefix lookup, same version everywhere.
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

key() {
  (cd "$SRC" && find . -type f \( -name pom.xml -o -name '*.java' \) | LC_ALL=C sort | xargs sha256sum
   sha256sum <"$TESTBED_DIR/consumers.sh") | sha256sum | cut -c1-16
}

OUT="$CACHE_ROOT/consumers/$(key)"

ensure_tools() {
  local need=()
  command -v mvn >/dev/null || need+=(maven)
  command -v javac >/dev/null || need+=(default-jdk-headless)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

build_client() {  # build_client NAME TMPDIR
  local name=$1 tmp=$2
  mvn -q -B -f "$SRC/$name/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
    -DoutputDirectory="$tmp/$name/lib" -DincludeScope=runtime >"$tmp/$name.mvn.log" 2>&1 \
    || { cat "$tmp/$name.mvn.log" >&2; return 1; }
  mkdir -p "$tmp/$name/classes"
  javac -nowarn -encoding UTF-8 --release 17 -d "$tmp/$name/classes" -cp "$tmp/$name/lib/*" \
    "$SRC"/common/src/kube2zk/consumers/*.java "$SRC/$name"/src/kube2zk/consumers/*.java \
    >"$tmp/$name.javac.log" 2>&1 || { cat "$tmp/$name.javac.log" >&2; return 1; }
}

build() {
  [ -f "$OUT/.built" ] && { echo "$OUT"; return; }
  ensure_tools
  mkdir -p "$CACHE_ROOT/consumers"
  exec 9>"$CACHE_ROOT/consumers/.lock"
  flock 9
  [ -f "$OUT/.built" ] && { echo "$OUT"; return; }  # built by a concurrent run meanwhile
  local tmp pids=() status=0
  tmp=$(mktemp -d "$CACHE_ROOT/consumers/.build.XXXXXX")
  log "building the consumer libraries into $OUT"
  for name in "${CLIENTS[@]}"; do
    build_client "$name" "$tmp" & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  if [ $status -ne 0 ]; then
    rm -rf "$tmp"
    die "building the consumer libraries failed"
  fi
  rm -f "$tmp"/*.log
  touch "$tmp/.built"
  rm -rf "$OUT"
  mv "$tmp" "$OUT"
  echo "$OUT"
}

case "${1:-build}" in
  build) build ;;
  path) echo "$OUT" ;;
  *) die "usage: consumers.sh build|path" ;;
esac
