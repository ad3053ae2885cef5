#!/usr/bin/env bash
# Builds the chart and alert tooling from the Go module proxy into the bed's
# cache, like build.sh does for the control plane: helm (lints, renders and
# installs charts/kube2zk) and promtool (checks and unit-tests the alert rules).
# A tool already built for the pinned version is reused, so this is cheap after
# the first run. Prints the path of each requested binary on stdout.
# monitoring-crds fetches the Prometheus Operator's ServiceMonitor and
# PrometheusRule CRDs from its Go module (the module proxy serves the source)
# so the bed can dry-run the chart's monitoring objects; prints their folder.
#   usage: testbed/tools.sh [helm] [promtool] [monitoring-crds]   (helm and promtool when none is named)
set -euo pipefail
. "$(dirname "$0")/common.sh"

# GOTOOLCHAIN is left to the go command, as in build.sh.
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
TOOLS_DIR="$CACHE_ROOT/tools"

# go_install DIR PKG@VERSION [go install flags...]: builds the package with the
# dependency versions its release pinned (neither module has replace or
# exclude directives, so `go install pkg@version` takes it as it is) and
# installs it into DIR/bin only once the build succeeded.
go_install() {
  local dir=$1 pkg=$2 name=${2%@*}; shift 2
  name=${name##*/}
  rm -rf "$dir/tmp" && mkdir -p "$dir/tmp" "$dir/bin"
  GOBIN="$dir/tmp" go install -trimpath "$@" "$pkg"
  mv "$dir/tmp/$name" "$dir/bin/$name"
  rmdir "$dir/tmp"
}

build_helm() {
  local dir="$TOOLS_DIR/helm-$HELM_VERSION"
  if [ ! -x "$dir/bin/helm" ]; then
    log "building helm $HELM_VERSION"
    # As helm's own Makefile does: the Kubernetes version helm assumes without
    # a cluster (helm template, helm lint) is the minor of its client-go.
    local gomod client_go minor ldflags pkg
    gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    client_go=$(sed -n 's#^[[:space:]]*k8s.io/client-go \(v[^ ]*\).*#\1#p' "$gomod")
    minor=${client_go#v0.}; minor=${minor%%.*}
    [ -n "$minor" ] || die "no k8s.io/client-go version in $gomod"
    ldflags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
      ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
    done
    go_install "$dir" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" -ldflags "$ldflags"
  fi
  echo "$dir/bin/helm"
}

build_promtool() {
  local dir="$TOOLS_DIR/promtool-$PROMETHEUS_VERSION"
  if [ ! -x "$dir/bin/promtool" ]; then
    log "building promtool $PROMETHEUS_VERSION"
    go_install "$dir" "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" \
      -ldflags "-X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION"
  fi
  echo "$dir/bin/promtool"
}

build_monitoring-crds() {
  local dir="$TOOLS_DIR/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/crds" src kind
  if [ ! -f "$dir/monitoring.coreos.com_prometheusrules.yaml" ]; then
    log "fetching the Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs"
    src=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" |
      sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    [ -n "$src" ] || die "no source folder for prometheus-operator $PROMETHEUS_OPERATOR_VERSION"
    mkdir -p "$dir"
    for kind in servicemonitors prometheusrules; do
      cp "$src/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$dir/"
    done
  fi
  echo "$dir"
}

command -v go >/dev/null || bash "$TESTBED_DIR/install.sh"
[ $# -gt 0 ] || set -- helm promtool
mkdir -p "$TOOLS_DIR"
for tool in "$@"; do
  case "$tool" in helm | promtool | monitoring-crds) ;; *) die "unknown tool: $tool (helm, promtool, monitoring-crds)" ;; esac
  # One build per tool at a time: a second caller (another test run, a
  # parallel make) waits for the first and then reuses its binary.
  (
    flock 9
    "build_$tool"
  ) 9>"$TOOLS_DIR/.$tool.lock"
done
