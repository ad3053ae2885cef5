#!/usr/bin/env bash
# kube2zk's container image, built and run without any registry:
#   image.sh build        build the image (if its inputs changed) and print its name
#   image.sh name         print the name the current inputs build to (no build)
#   image.sh podman ARGS  run podman as this machine needs it (see below)
#   image.sh bench        image size and start-up times, as in BENCHMARKS.md
# The base is a Debian root filesystem made with mmdebstrap from Debian's
# packages (python3 and what it needs) and imported into podman; the Dockerfile
# is then built on it with --build-arg BASE=<that image>. The root filesystem
# is cached under $CACHE_ROOT/image keyed by what goes into it, the image is
# tagged with a hash of the Dockerfile, the requirements and the code, so an
# unchanged tree reuses both (to take newer Debian packages, remove the cached
# root filesystem and `podman rmi` the base). Installs podman, runc and
# mmdebstrap with apt-get when they are missing.
#
# podman on hosts with hybrid cgroups and a capped RLIMIT_NOFILE: crun refuses
# hybrid cgroups and setting the container's rlimits is not permitted, so
# containers run with runc, the cgroupfs manager and no default ulimits (a
# containers.conf given through CONTAINERS_CONF), on the host's network (no
# CNI/netavark set-up needed; the bed listens on loopback anyway).
set -euo pipefail
. "$(dirname "$0")/common.sh"

IMAGE_CACHE="$CACHE_ROOT/image"
# What the base root filesystem holds: a change here changes its key.
BASE_SUITE=${IMAGE_DEBIAN_SUITE:-bookworm}
BASE_MIRROR=http://deb.debian.org/debian
BASE_PACKAGES=python3
BASE_OPTS=(
  --variant=minbase
  --include="$BASE_PACKAGES"
  # merged /usr made by a hook instead of the usrmerge package (which pulls in perl)
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*'
)
BASE_SOURCES=(
  "deb $BASE_MIRROR $BASE_SUITE main"
  "deb $BASE_MIRROR $BASE_SUITE-updates main"
  "deb http://deb.debian.org/debian-security $BASE_SUITE-security main"
)

base_key() {
  printf '%s\n' "$BASE_SUITE" "${BASE_OPTS[@]}" "${BASE_SOURCES[@]}" | sha256sum | cut -c1-12
}

# The image's inputs: what the Dockerfile copies, the Dockerfile and the base.
image_key() {
  (cd "$REPO_DIR" && {
    find lib -type f ! -path '*/__pycache__/*' ! -name '*.pyc'
    printf '%s\n' Dockerfile .dockerignore requirements.txt kube2zk_job.py
  } | LC_ALL=C sort | xargs sha256sum
   base_key) | sha256sum | cut -c1-12
}

BASE_IMAGE="localhost/kube2zk-base:$BASE_SUITE-$(base_key)"
BASE_TAR="$IMAGE_CACHE/base-$BASE_SUITE-$(base_key).tar"
IMAGE="localhost/kube2zk:$(image_key)"

ensure_tools() {
  local need=()
  command -v podman >/dev/null || need+=(podman)
  command -v runc >/dev/null || need+=(runc)
  command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
  apt_install "${need[@]}"
  mkdir -p "$IMAGE_CACHE"
  if [ ! -f "$IMAGE_CACHE/containers.conf" ]; then
    printf '%s\n' '[containers]' 'default_ulimits = []' '[engine]' 'cgroup_manager = "cgroupfs"' \
      >"$IMAGE_CACHE/containers.conf"
  fi
}

run_podman() {
  CONTAINERS_CONF="$IMAGE_CACHE/containers.conf" podman --runtime runc "$@"
}

build_base() {
  run_podman image exists "$BASE_IMAGE" && return
  if [ ! -f "$BASE_TAR" ]; then
    log "building the base root filesystem ($BASE_SUITE, $BASE_PACKAGES) with mmdebstrap"
    local t0=$SECONDS
    if ! mmdebstrap --format=tar "${BASE_OPTS[@]}" "$BASE_SUITE" "$BASE_TAR.tmp" "${BASE_SOURCES[@]}" \
      >"$IMAGE_CACHE/mmdebstrap.log" 2>&1; then
      tail -n 30 "$IMAGE_CACHE/mmdebstrap.log" >&2
      die "mmdebstrap failed; its log: $IMAGE_CACHE/mmdebstrap.log"
    fi
    mv -T "$BASE_TAR.tmp" "$BASE_TAR"
    log "base root filesystem built in $((SECONDS - t0))s"
  fi
  log "importing $BASE_TAR as $BASE_IMAGE"
  run_podman import --quiet "$BASE_TAR" "$BASE_IMAGE" >/dev/null
}

build() {
  ensure_tools
  # One build at a time (tests and `make image` may start together).
  exec 9>"$IMAGE_CACHE/lock"
  flock 9
  build_base
  if ! run_podman image exists "$IMAGE"; then
    log "building $IMAGE on $BASE_IMAGE"
    local t0=$SECONDS
    # The host's network: pip and apt-get reach their indexes without a CNI set-up.
    local args=(--quiet --network host --build-arg BASE="$BASE_IMAGE" -t "$IMAGE")
    # A CA bundle the host's pip is told to trust (PIP_CERT) is mounted for the
    # build's pip too: a volume, so no layer keeps it.
    if [ -f "${PIP_CERT:-}" ]; then
      args+=(--volume "$(readlink -f "$PIP_CERT"):/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt)
    fi
    run_podman build "${args[@]}" "$REPO_DIR" >/dev/null
    log "image built in $((SECONDS - t0))s"
  fi
  # Images of earlier trees would pile up, one per change: remove those older
  # than a day (a checkout next to this one may still be testing a recent one;
  # the layers this one shares stay; `podman image prune` frees build leftovers).
  local stale ref
  stale=$(run_podman images --filter reference=localhost/kube2zk --filter until=24h \
    --format '{{.Repository}}:{{.Tag}}' |
    grep -E '^localhost/kube2zk:[0-9a-f]{12}$' | grep -vxF "$IMAGE" || true)
  for ref in $stale; do run_podman rmi "$ref" >/dev/null 2>&1 || true; done
  # The manifests run kube2zk:latest.
  run_podman tag "$IMAGE" localhost/kube2zk:latest
  echo "$IMAGE"
}

# median of the wall times (ms) of COUNT runs of a command
median_ms() {
  local count=$1 times=() t0
  shift
  for _ in $(seq "$count"); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>"$IMAGE_CACHE/bench.err" || { cat "$IMAGE_CACHE/bench.err" >&2; die "failed: $*"; }
    times+=($(( ($(date +%s%N) - t0) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (count + 1) / 2 ))p"
}

bench() {
  build >/dev/null
  local size tmp run=(run_podman run --rm --network host --read-only --read-only-tmpfs=false --user 10001:10001)
  size=$(run_podman image inspect --format '{{.Size}}' "$IMAGE")
  echo "image: $IMAGE on $BASE_IMAGE"
  echo "size: $((size / 1000000)) MB (base $(( $(run_podman image inspect --format '{{.Size}}' "$BASE_IMAGE") / 1000000 )) MB)"
  echo "container start and exit (/bin/true): $(median_ms 5 "${run[@]}" --entrypoint /bin/true "$IMAGE") ms"
  echo "kube2zk -h: $(median_ms 5 "${run[@]}" "$IMAGE" -h) ms"
  echo "import everything a run loads: $(median_ms 5 "${run[@]}" --entrypoint /opt/kube2zk/bin/python3 "$IMAGE" \
    -c 'import lib.app, lib.daemon.loop, kubernetes.client, kazoo.client, prometheus_client') ms"
  # With a running bed: a whole one-shot run that lists the pods of all
  # namespaces and prints the service map (-mockregistry: ZooKeeper untouched).
  if [ -f "$STATE_DIR/env" ]; then
    local kubeconfig
    kubeconfig=$(. "$STATE_DIR/env" && echo "$KUBECONFIG")
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    install -m 0644 "$kubeconfig" "$tmp/kubeconfig"  # the bed's is 0600, the image's user is not root
    # A kubeconfig with embedded client certificates: the Kubernetes client
    # writes them to temporary files, hence a writable /tmp here (in-cluster
    # credentials, as in the manifests, need none).
    echo "one-shot run, -mockregistry, all namespaces of the bed: $(median_ms 5 "${run[@]}" --tmpfs /tmp \
      --volume "$tmp/kubeconfig:/kubeconfig:ro" -e KUBECONFIG=/kubeconfig "$IMAGE" -mockregistry) ms"
  fi
}

case "${1:-}" in
  build) build ;;
  name) echo "$IMAGE" ;;
  podman)
    shift
    ensure_tools
    # exec: signals and the exit status are podman's own
    CONTAINERS_CONF="$IMAGE_CACHE/containers.conf" exec podman --runtime runc "$@"
    ;;
  bench) bench ;;
  *) die "usage: $0 build|name|podman ARGS...|bench" ;;
esac
