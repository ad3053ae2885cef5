#!/usr/bin/env bash
# Starts a Kubernetes control plane on 127.0.0.1 for the integration tests:
# etcd -> kube-apiserver -> kube-controller-manager, kube-scheduler, kwok, then
# TESTBED_NODES (default 2) fake kwok Nodes. Each component waits for the health
# of the previous one. A healthy bed already recorded in STATE_DIR is reused
# (only missing Nodes are added), so running this twice is cheap.
#
# Writes, under STATE_DIR: k8s/ (certificates, keys, etcd data, ports),
# kubeconfig (self-contained admin kubeconfig), k8s.env (sourceable:
# KUBECONFIG, PATH, K8S_API), logs/<component>.log and pids/<component>.pid.
# Stop it with k8s-down.sh.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$(dirname "$0")/common.sh"

K8S_DIR="$STATE_DIR/k8s"
PKI_DIR="$K8S_DIR/pki"
PORTS_FILE="$K8S_DIR/ports.env"
COMPONENT_KUBECONFIG="$K8S_DIR/components.kubeconfig"
LOG_DIR="$STATE_DIR/logs"
ENV_FILE="$STATE_DIR/k8s.env"
ADMIN_KUBECONFIG="$STATE_DIR/kubeconfig"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

NODES="${TESTBED_NODES:-2}"
# Node i owns the /22 at 10.(64 + i/64).((i%64)*4).0 of CLUSTER_CIDR: 1,022 pod
# addresses each, and room for 4,095 nodes (the bed allows 1,000).
CLUSTER_CIDR=10.64.0.0/10
MAX_NODES=1000
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1           # first address of SERVICE_CIDR: the `kubernetes` Service
ADVERTISE_ADDRESS=192.0.2.10   # TEST-NET-1: the host has no default route to derive one from
NODE_ANNOTATION=kwok.x-k8s.io/node

case "$NODES" in
  '' | *[!0-9]*) die "TESTBED_NODES must be a number between 1 and $MAX_NODES, got '$NODES'" ;;
esac
if [ "$NODES" -lt 1 ] || [ "$NODES" -gt "$MAX_NODES" ]; then
  die "TESTBED_NODES must be between 1 and $MAX_NODES, got $NODES"
fi

for bin in "${COMPONENTS[@]}" kubectl; do
  [ -x "$BIN_DIR/$bin" ] || die "$BIN_DIR/$bin is missing: run testbed/build.sh first"
done
[ -s "$STAGES_FILE" ] || die "$STAGES_FILE is missing: run testbed/build.sh first"
for tool in openssl curl python3 setsid flock; do
  command -v "$tool" >/dev/null || die "$tool is needed to start the test bed"
done

mkdir -p "$STATE_DIR" "$LOG_DIR" "$PID_DIR"
# One start (or stop) at a time per STATE_DIR; k8s-down.sh takes the same lock.
exec 9>"$STATE_DIR/k8s.lock"
flock 9
export _KUBE2ZK_K8S_LOCK_HELD=1

kubectl() { "$BIN_DIR/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }


api_curl() {  # api_curl PATH: GET PATH from the API server as admin
  curl -fsS --max-time 5 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" \
    --key "$PKI_DIR/admin.key" "https://127.0.0.1:$API_PORT$1"
}

healthy() {  # healthy COMPONENT: one health probe
  case "$1" in
    etcd) curl -fsS --max-time 5 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"' ;;
    kube-apiserver) [ "$(api_curl /readyz 2>/dev/null)" = ok ] ;;
    kube-controller-manager) [ "$(curl -fsSk --max-time 5 "https://127.0.0.1:$KCM_PORT/healthz" 2>/dev/null)" = ok ] ;;
    kube-scheduler) [ "$(curl -fsSk --max-time 5 "https://127.0.0.1:$SCHEDULER_PORT/healthz" 2>/dev/null)" = ok ] ;;
    kwok) curl -fsS --max-time 5 "http://127.0.0.1:$KWOK_PORT/healthz" >/dev/null 2>&1 ;;
  esac
}

# fail COMPONENT MESSAGE: report which component failed, with the end of its log.
fail() {
  local log_file="$LOG_DIR/$1.log"
  printf '[testbed] ERROR: %s: %s\n[testbed] log: %s\n' "$1" "$2" "$log_file" >&2
  if [ -s "$log_file" ]; then
    printf '[testbed] last lines of %s:\n' "$log_file" >&2
    tail -n 20 "$log_file" | sed 's/^/    /' >&2
  fi
  exit 1
}

# wait_healthy COMPONENT SECONDS: poll the health probe; fail at once if the process died.
wait_healthy() {
  local deadline=$((SECONDS + $2))
  until healthy "$1"; do
    pid_of "$1" >/dev/null || fail "$1" "the process exited while starting"
    [ "$SECONDS" -lt "$deadline" ] || fail "$1" "not healthy after $2s"
    sleep 0.2
  done
}

bed_healthy() {
  [ -s "$PORTS_FILE" ] && [ -s "$ADMIN_KUBECONFIG" ] && [ -s "$PKI_DIR/admin.key" ] || return 1
  # shellcheck source=/dev/null
  . "$PORTS_FILE"
  local c
  for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null || return 1; done
  healthy kube-apiserver
}

# start_daemon COMPONENT ARGS...: run BIN_DIR/COMPONENT detached (setsid,
# stdin/stdout/stderr away from the caller, without the lock's fd 9) and
# record its own pid.
start_daemon() {
  local name=$1 pid_file="$PID_DIR/$1.pid" i
  shift
  rm -f "$pid_file"
  # The inner shell writes its pid, then execs the component under that pid.
  # shellcheck disable=SC2016
  setsid -f bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
    "$pid_file" "$BIN_DIR/$name" "$@" </dev/null >"$LOG_DIR/$name.log" 2>&1 9>&-
  for i in $(seq 50); do
    [ -s "$pid_file" ] && return 0
    sleep 0.1
  done
  fail "$name" "no pid recorded in $pid_file"
}

nodes_yaml() {
  local i name
  for i in $(seq "$NODES"); do
    name="kwok-node-$i"
    cidr="10.$((64 + i / 64)).$(((i % 64) * 4)).0/22"
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    $NODE_ANNOTATION: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $name
spec:
  podCIDR: $cidr
  podCIDRs:
  - $cidr
status:
  addresses:
  - type: InternalIP
    address: 10.250.$((i / 250)).$((i % 250 + 1))
  - type: Hostname
    address: $name
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "1000"
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "1000"
EOF
  done
}

# ensure_nodes: create the fake Nodes (idempotent) and wait until all are Ready
# and schedulable (the controller-manager lifts the not-ready taint).
ensure_nodes() {
  local out deadline=$((SECONDS + 90)) want pending
  out=$(nodes_yaml | kubectl apply -f - 2>&1) || fail kube-apiserver "creating the fake Nodes failed: $out"
  want=$(seq -f 'kwok-node-%g' "$NODES" | sort)
  while :; do
    # One line per node: NAME READY-STATUS TAINT-KEYS...
    out=$(kubectl get nodes -l type=kwok -o \
      'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}{"\n"}{end}' 2>/dev/null) || out=
    pending=$(comm -23 <(echo "$want") <(awk '$2 == "True" && NF == 2 {print $1}' <<<"$out" | sort))
    [ -z "$pending" ] && break
    pid_of kwok >/dev/null || fail kwok "the process exited"
    pid_of kube-controller-manager >/dev/null || fail kube-controller-manager "the process exited"
    [ "$SECONDS" -lt "$deadline" ] || fail kwok "Nodes not Ready and untainted after 90s: $(echo "$pending" | tr '\n' ' ')"
    sleep 0.3
  done
}

wait_default_service_account() {
  local deadline=$((SECONDS + 60))
  until kubectl -n default get serviceaccount default >/dev/null 2>&1; do
    pid_of kube-controller-manager >/dev/null || fail kube-controller-manager "the process exited"
    [ "$SECONDS" -lt "$deadline" ] || fail kube-controller-manager "no ServiceAccount default/default after 60s"
    sleep 0.3
  done
}

write_env_file() {
  {
    echo "# Written by testbed/k8s-up.sh; removed by testbed/k8s-down.sh."
    printf 'export KUBECONFIG=%q\n' "$ADMIN_KUBECONFIG"
    # shellcheck disable=SC2016 # $PATH is expanded when the file is sourced
    printf 'export PATH=%q:"$PATH"\n' "$BIN_DIR"
    printf 'export K8S_API=%q\n' "https://127.0.0.1:$API_PORT"
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# --- reuse a running bed ------------------------------------------------------
if bed_healthy; then
  log "reusing the running Kubernetes bed at https://127.0.0.1:$API_PORT"
  ensure_nodes
  write_env_file
  exit 0
fi

if compgen -G "$PID_DIR/*.pid" >/dev/null || [ -e "$K8S_DIR" ] || [ -e "$ENV_FILE" ]; then
  log "cleaning up a stopped or unhealthy Kubernetes bed"
  KEEP_LOGS=1 bash "$TESTBED_DIR/k8s-down.sh"
fi

# From here on a failure stops whatever was started; the logs stay.
started=0
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$started" = 1 ]; then
    log "stopping the partly started bed (logs kept in $LOG_DIR)"
    KEEP_LOGS=1 bash "$TESTBED_DIR/k8s-down.sh" >/dev/null 2>&1 || true
  fi
}
trap on_exit EXIT

# --- ports ----------------------------------------------------------------------
mkdir -p "$K8S_DIR" "$PKI_DIR"
chmod 700 "$K8S_DIR"
read -r ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
')
cat >"$PORTS_FILE" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
API_PORT=$API_PORT
KCM_PORT=$KCM_PORT
SCHEDULER_PORT=$SCHEDULER_PORT
KWOK_PORT=$KWOK_PORT
EOF

# --- certificates and keys ----------------------------------------------------
# sign NAME SUBJECT EXTENSIONS: an ECDSA key and a certificate signed by the CA.
sign() {
  local ext
  ext=$(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n' "$3")
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI_DIR/$1.key" -subj "$2" 2>/dev/null |
    openssl x509 -req -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days 3650 \
      -extfile <(echo "$ext") -out "$PKI_DIR/$1.crt" 2>/dev/null
}
(
  set -e
  umask 077
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI_DIR/ca.key" -out "$PKI_DIR/ca.crt" -days 3650 \
    -subj "/CN=kube2zk-testbed-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  sign apiserver "/CN=kube-apiserver" "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:$SERVICE_IP,IP:$ADVERTISE_ADDRESS,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI_DIR/sa.key" 2>/dev/null
  openssl pkey -in "$PKI_DIR/sa.key" -pubout -out "$PKI_DIR/sa.pub" 2>/dev/null
) || die "generating certificates in $PKI_DIR failed (openssl)"

b64() { base64 -w0 <"$1"; }
write_kubeconfig() {  # write_kubeconfig FILE: admin credentials, certificates embedded
  cat >"$1.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kube2zk-testbed
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$PKI_DIR/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$PKI_DIR/admin.crt")
    client-key-data: $(b64 "$PKI_DIR/admin.key")
contexts:
- name: kube2zk-testbed
  context:
    cluster: kube2zk-testbed
    user: admin
    namespace: default
current-context: kube2zk-testbed
EOF
  chmod 600 "$1.tmp"
  mv "$1.tmp" "$1"
}
write_kubeconfig "$ADMIN_KUBECONFIG"
write_kubeconfig "$COMPONENT_KUBECONFIG"

# --- etcd ---------------------------------------------------------------------
started=1
log "starting etcd on 127.0.0.1:$ETCD_PORT"
start_daemon etcd \
  --name=testbed \
  --data-dir="$K8S_DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="testbed=http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster-state=new \
  --unsafe-no-fsync \
  --log-level=warn
wait_healthy etcd 30

# --- kube-apiserver -----------------------------------------------------------
log "starting kube-apiserver on 127.0.0.1:$API_PORT"
start_daemon kube-apiserver \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 \
  --secure-port="$API_PORT" \
  --advertise-address="$ADVERTISE_ADDRESS" \
  --endpoint-reconciler-type=none \
  --cert-dir="$PKI_DIR" \
  --tls-cert-file="$PKI_DIR/apiserver.crt" \
  --tls-private-key-file="$PKI_DIR/apiserver.key" \
  --client-ca-file="$PKI_DIR/ca.crt" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI_DIR/sa.pub" \
  --service-account-signing-key-file="$PKI_DIR/sa.key" \
  --authorization-mode=Node,RBAC \
  --allow-privileged=true \
  --profiling=false
wait_healthy kube-apiserver 120

# --- controller-manager, scheduler, kwok ----------------------------------------
log "starting kube-controller-manager, kube-scheduler and kwok"
start_daemon kube-controller-manager \
  --kubeconfig="$COMPONENT_KUBECONFIG" \
  --authentication-kubeconfig="$COMPONENT_KUBECONFIG" \
  --authorization-kubeconfig="$COMPONENT_KUBECONFIG" \
  --bind-address=127.0.0.1 \
  --secure-port="$KCM_PORT" \
  --leader-elect=false \
  --service-account-private-key-file="$PKI_DIR/sa.key" \
  --root-ca-file="$PKI_DIR/ca.crt" \
  --cluster-signing-cert-file="$PKI_DIR/ca.crt" \
  --cluster-signing-key-file="$PKI_DIR/ca.key" \
  --kube-api-qps=100 \
  --kube-api-burst=200 \
  --profiling=false
start_daemon kube-scheduler \
  --kubeconfig="$COMPONENT_KUBECONFIG" \
  --authentication-kubeconfig="$COMPONENT_KUBECONFIG" \
  --authorization-kubeconfig="$COMPONENT_KUBECONFIG" \
  --bind-address=127.0.0.1 \
  --secure-port="$SCHEDULER_PORT" \
  --kube-api-qps=100 \
  --kube-api-burst=200 \
  --leader-elect=false \
  --profiling=false
start_daemon kwok \
  --kubeconfig="$COMPONENT_KUBECONFIG" \
  --config="$STAGES_FILE" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector="$NODE_ANNOTATION=fake" \
  --cidr="${CLUSTER_CIDR%.0/*}.1/${CLUSTER_CIDR#*/}" \
  --node-ip=10.250.0.1 \
  --node-lease-duration-seconds=40 \
  --server-address="127.0.0.1:$KWOK_PORT"
wait_healthy kube-controller-manager 60
wait_healthy kube-scheduler 60
wait_healthy kwok 60

# --- Nodes and the default ServiceAccount ---------------------------------------
log "creating $NODES fake Node(s)"
ensure_nodes
wait_default_service_account
write_env_file
log "Kubernetes bed ready: https://127.0.0.1:$API_PORT (source $ENV_FILE)"
