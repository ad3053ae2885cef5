#!/usr/bin/env bash
# Builds etcd, the Kubernetes control plane, kubectl and kwok from the Go module
# proxy into the cache named in common.sh. A component already built for the
# pinned version is skipped, so this is cheap after the first run.
set -euo pipefail
. "$(dirname "$0")/common.sh"

# GOTOOLCHAIN is left to the go command: an older local Go fetches the version
# the modules ask for from the module proxy.
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
SRC_DIR="$CACHE_ROOT/$BUILD_KEY/src"
mkdir -p "$BIN_DIR" "$SRC_DIR"

have() { [ -x "$BIN_DIR/$1" ]; }

wrapper_module() {  # wrapper_module DIR NAME: a fresh throwaway module to build a main package in
  rm -rf "$1" && mkdir -p "$1" && cd "$1"
  go mod init "kube2zk.testbed/$2" >/dev/null 2>&1
}

build_etcd() {
  have etcd && return
  log "building etcd $ETCD_VERSION"
  # etcd's server module has replace directives, so `go install` refuses it;
  # its own wrapper keeps its deps from shifting the Kubernetes build.
  wrapper_module "$SRC_DIR/etcd" etcd
  go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -o "$BIN_DIR/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
}

build_kwok() {
  if have kwok && [ -s "$STAGES_FILE" ]; then return; fi
  log "building kwok $KWOK_VERSION"
  wrapper_module "$SRC_DIR/kwok" kwok
  go get -tool "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  go build -trimpath -o "$BIN_DIR/kwok.tmp" sigs.k8s.io/kwok/cmd/kwok
  # Recent kwok releases ship no default Stages: take the fast node/pod
  # lifecycle from the module itself so pods get an IP, turn Ready and go away.
  local dir stage
  dir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  : >"$STAGES_FILE.tmp"
  for stage in node/fast/node-initialize.yaml \
               node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
               pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    printf -- '---\n' >>"$STAGES_FILE.tmp"
    grep -v '^---$' "$dir/kustomize/stage/$stage" >>"$STAGES_FILE.tmp"
  done
  mv "$STAGES_FILE.tmp" "$STAGES_FILE"
  mv "$BIN_DIR/kwok.tmp" "$BIN_DIR/kwok"
}

build_kubernetes() {
  if have kube-apiserver && have kube-controller-manager && have kube-scheduler && have kubectl; then return; fi
  log "building Kubernetes $KUBERNETES_VERSION (several minutes)"
  wrapper_module "$SRC_DIR/kubernetes" kubernetes
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
  # with ./staging paths; a dependent module must replace each with the
  # published v0.X.Y. Read the list from this version's go.mod.
  local gomod staging minor
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  minor=${KUBERNETES_VERSION#v1.}
  for staging in $(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod"); do
    go mod edit -replace "$staging=$staging@v0.$minor"
  done
  local pkgs=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
              k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
  local p
  for p in "${pkgs[@]}"; do go get -tool "$p@$KUBERNETES_VERSION"; done
  local major=${KUBERNETES_VERSION#v}; major=${major%%.*}
  local kminor=${minor%%.*}
  local ldflags="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$kminor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$SRC_DIR/kubernetes/out"
  go build -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$SRC_DIR/kubernetes/out/" "${pkgs[@]}"
  mv "$SRC_DIR/kubernetes/out/"* "$BIN_DIR/"
}

command -v go >/dev/null || die "the Go toolchain is needed to build the test bed (go not on PATH)"
build_etcd
build_kwok
build_kubernetes
log "binaries ready in $BIN_DIR"
