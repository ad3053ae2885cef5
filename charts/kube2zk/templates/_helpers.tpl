{{/* Names and labels. */}}
{{- define "kube2zk.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kube2zk.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "kube2zk.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "kube2zk.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "kube2zk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kube2zk.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kube2zk.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "kube2zk.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kube2zk.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kube2zk.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* A ClusterRole's name is cluster-wide: two releases of the same name in
     different namespaces must not share one. */}}
{{- define "kube2zk.clusterRoleName" -}}
{{- printf "%s-%s" (include "kube2zk.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kube2zk.mode" -}}
{{- if not (has .Values.mode (list "cronjob" "deployment")) }}
{{- fail (printf "mode must be cronjob or deployment, not %q" (toString .Values.mode)) }}
{{- end }}
{{- .Values.mode }}
{{- end }}

{{/* Each option's environment variable, keyed by flag name (lib/settings). */}}
{{- define "kube2zk.optionEnv" -}}
namespace: namespace
zkservers: zkservers
zkpath: zkpath
syncperiod: syncperiod
mockregistry: mockregistry
kubeconfig: KUBECONFIG
node-config: KUBE2ZK_NODE_CONFIG
enforce-node-config: KUBE2ZK_ENFORCE_NODE_CONFIG
owner-id: KUBE2ZK_OWNER_ID
owner-root: KUBE2ZK_OWNER_ROOT
adopt: KUBE2ZK_ADOPT
strict: KUBE2ZK_STRICT
output: KUBE2ZK_OUTPUT
log-format: KUBE2ZK_LOG_FORMAT
log-level: KUBE2ZK_LOG_LEVEL
zk-timeout: KUBE2ZK_ZK_TIMEOUT
kube-timeout: KUBE2ZK_KUBE_TIMEOUT
page-size: KUBE2ZK_PAGE_SIZE
loop: KUBE2ZK_LOOP
watch-timeout: KUBE2ZK_WATCH_TIMEOUT
batch-window: KUBE2ZK_BATCH_WINDOW
burst-interval: KUBE2ZK_BURST_INTERVAL
metrics-addr: KUBE2ZK_METRICS_ADDR
events: KUBE2ZK_EVENTS
lock-timeout: KUBE2ZK_LOCK_TIMEOUT
owner-stale-after: KUBE2ZK_OWNER_STALE_AFTER
reap-owners-after: KUBE2ZK_REAP_OWNERS_AFTER
dry-run: KUBE2ZK_DRY_RUN
max-deletions: KUBE2ZK_MAX_DELETIONS
force-deletions: KUBE2ZK_FORCE_DELETIONS
zk-auth-file: KUBE2ZK_ZK_AUTH_FILE
zk-acl: KUBE2ZK_ZK_ACL
zk-tls: KUBE2ZK_ZK_TLS
zk-ca-file: KUBE2ZK_ZK_CA_FILE
zk-cert-file: KUBE2ZK_ZK_CERT_FILE
zk-key-file: KUBE2ZK_ZK_KEY_FILE
claim-policy: KUBE2ZK_CLAIM_POLICY
layouts: KUBE2ZK_LAYOUTS
curator-path: KUBE2ZK_CURATOR_PATH
curator-payload-class: KUBE2ZK_CURATOR_PAYLOAD_CLASS
dubbo-root: KUBE2ZK_DUBBO_ROOT
{{- end }}

{{- define "kube2zk.authFile" -}}/etc/kube2zk/zk-auth/{{ .Values.zookeeper.auth.key }}{{- end }}
{{- define "kube2zk.tlsDir" -}}/etc/kube2zk/zk-tls{{- end }}
{{- define "kube2zk.policyFile" -}}/etc/kube2zk/claim-policy/{{ .Values.claimPolicy.key }}{{- end }}

{{- define "kube2zk.policyConfigMap" -}}
{{- if .Values.claimPolicy.existingConfigMap }}
{{- .Values.claimPolicy.existingConfigMap }}
{{- else if .Values.claimPolicy.policy }}
{{- printf "%s-claim-policy" (include "kube2zk.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The options the chart sets from its own values, flag -> value. A flag set
     both here and under `config` is a mistake the install refuses. */}}
{{- define "kube2zk.chartOptions" -}}
{{- $opts := dict }}
{{- if eq (include "kube2zk.mode" .) "deployment" }}
{{- $_ := set $opts "metrics-addr" (printf ":%v" .Values.metrics.port) }}
{{- end }}
{{- if .Values.zookeeper.auth.existingSecret }}
{{- $_ := set $opts "zk-auth-file" (include "kube2zk.authFile" .) }}
{{- end }}
{{- with .Values.zookeeper.tls }}
{{- if .existingSecret }}
{{- $_ := set $opts "zk-ca-file" (printf "%s/%s" (include "kube2zk.tlsDir" $) .caKey) }}
{{- if .certKey }}{{ $_ := set $opts "zk-cert-file" (printf "%s/%s" (include "kube2zk.tlsDir" $) .certKey) }}{{ end }}
{{- if .keyKey }}{{ $_ := set $opts "zk-key-file" (printf "%s/%s" (include "kube2zk.tlsDir" $) .keyKey) }}{{ end }}
{{- end }}
{{- end }}
{{- if include "kube2zk.policyConfigMap" . }}
{{- $_ := set $opts "claim-policy" (include "kube2zk.policyFile" .) }}
{{- end }}
{{- toYaml $opts }}
{{- end }}

{{/* The container's env: every option under `config` with a value, then the
     chart's own; unknown flags and flags the chart owns are refused. */}}
{{- define "kube2zk.env" -}}
{{- $envs := include "kube2zk.optionEnv" . | fromYaml }}
{{- $chart := include "kube2zk.chartOptions" . | fromYaml }}
{{- range $flag, $value := .Values.config }}
{{- if not (hasKey $envs $flag) }}
{{- fail (printf "config.%s: kube2zk has no option -%s" $flag $flag) }}
{{- end }}
{{- if has $flag (list "loop" "metrics-addr") }}
{{- fail (printf "config.%s: set by the chart (mode, metrics.port)" $flag) }}
{{- end }}
{{- $text := kindIs "slice" $value | ternary (toJson $value) (toString $value) }}
{{- if and (ne $text "") (ne $text "<nil>") }}
{{- if hasKey $chart $flag }}
{{- fail (printf "config.%s is set, and so is the chart value that mounts this file: keep one" $flag) }}
{{- end }}
- name: {{ get $envs $flag }}
  value: {{ $text | quote }}
{{- end }}
{{- end }}
{{- range $flag, $value := $chart }}
- name: {{ get $envs $flag }}
  value: {{ $value | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kube2zk.volumeMounts" -}}
{{- if .Values.zookeeper.auth.existingSecret }}
- name: zk-auth
  mountPath: /etc/kube2zk/zk-auth
  readOnly: true
{{- end }}
{{- if .Values.zookeeper.tls.existingSecret }}
- name: zk-tls
  mountPath: {{ include "kube2zk.tlsDir" . }}
  readOnly: true
{{- end }}
{{- if include "kube2zk.policyConfigMap" . }}
- name: claim-policy
  mountPath: /etc/kube2zk/claim-policy
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kube2zk.volumes" -}}
{{- with .Values.zookeeper.auth.existingSecret }}
- name: zk-auth
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- with .Values.zookeeper.tls.existingSecret }}
- name: zk-tls
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- with include "kube2zk.policyConfigMap" . }}
- name: claim-policy
  configMap:
    name: {{ . }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The pod spec both modes share (the manifests' security, resources). */}}
{{- define "kube2zk.podSpec" -}}
serviceAccountName: {{ include "kube2zk.serviceAccountName" . }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (include "kube2zk.volumes" . | trim) }}
volumes:
  {{- . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The container after its name (the Deployment adds args, ports, probes). */}}
{{- define "kube2zk.container" -}}
image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
imagePullPolicy: {{ .Values.image.pullPolicy }}
env:
  {{- include "kube2zk.env" . | trim | nindent 2 }}
{{- with (include "kube2zk.volumeMounts" . | trim) }}
volumeMounts:
  {{- . | nindent 2 }}
{{- end }}
resources:
  {{- toYaml .Values.resources | nindent 2 }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end }}

{{/* A Go duration ("1h30m", "90s") in seconds, for the alert thresholds. */}}
{{- define "kube2zk.seconds" -}}
{{- $units := dict "h" 3600.0 "m" 60.0 "s" 1.0 "ms" 0.001 "us" 0.000001 "µs" 0.000001 "ns" 0.000000001 }}
{{- $total := 0.0 }}
{{- range regexFindAll "[0-9.]+(h|ms|m|s|us|µs|ns)" (toString .) -1 }}
{{- $n := regexFind "^[0-9.]+" . | float64 }}
{{- $total = addf $total (mulf $n (get $units (trimPrefix (regexFind "^[0-9.]+" .) .))) }}
{{- end }}
{{- $total }}
{{- end }}
