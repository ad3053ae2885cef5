#!/usr/bin/env bash
# Installs the system packages the test bed needs when they are missing:
# Debian's zookeeper (with a JRE) and a Go toolchain to build the control plane.
set -euo pipefail
. "$(dirname "$0")/common.sh"

need=()
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
command -v java >/dev/null || need+=(default-jre-headless)
command -v go >/dev/null || need+=(golang-go)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
apt_install "${need[@]}"
