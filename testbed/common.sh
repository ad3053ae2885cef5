# Shared settings for the test-bed scripts; sourced, not run.
# shellcheck shell=bash
TESTBED_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$TESTBED_DIR")"
# shellcheck source=versions.env
. "$TESTBED_DIR/versions.env"

# Binaries live outside the repository, keyed by the pinned versions, so a
# second start (or CI on the same machine) reuses them and a version bump rebuilds.
CACHE_ROOT="${KUBE2ZK_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube2zk-testbed}"
BUILD_KEY="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
BIN_DIR="$CACHE_ROOT/$BUILD_KEY/bin"
STAGES_FILE="$CACHE_ROOT/$BUILD_KEY/kwok-stages.yaml"

# Runtime state of a running bed (git-ignored).
STATE_DIR="${KUBE2ZK_TESTBED_STATE:-$REPO_DIR/.testbed}"
PID_DIR="$STATE_DIR/pids"

log() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: install Debian packages (none when no argument).
apt_install() {
  [ $# -gt 0 ] || return 0
  log "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# pid_of NAME: the pid recorded in $PID_DIR/NAME.pid if that process is alive
# and is NAME (a recycled pid belonging to another program is left alone).
pid_of() {
  local pid state argv0
  pid=$(cat "$PID_DIR/$1.pid" 2>/dev/null) || return 1
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null) || return 1
  case "$state" in '' | Z | X) return 1 ;; esac
  argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1) || return 1
  [ "${argv0##*/}" = "$1" ] || return 1
  echo "$pid"
}
