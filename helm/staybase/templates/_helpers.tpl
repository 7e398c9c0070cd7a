{{/*
Chart name, truncated to the 63 characters Kubernetes allows in names and label values.
*/}}
{{- define "staybase.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: the release name, plus the chart name unless the release name
already contains it. Truncated to 63 characters.
*/}}
{{- define "staybase.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of a component's resources: "<fullname>-<suffix>", kept within 63 characters.
Usage: include "staybase.componentName" (list . "worker")
*/}}
{{- define "staybase.componentName" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "staybase.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{/*
Chart name and version, as used by the helm.sh/chart label.
*/}}
{{- define "staybase.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "staybase.labels" -}}
helm.sh/chart: {{ include "staybase.chart" . }}
{{ include "staybase.selectorLabels" . }}
app.kubernetes.io/version: {{ include "staybase.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: staybase
{{- end }}

{{/*
Selector labels (stable across upgrades: never add values that change between releases).
*/}}
{{- define "staybase.selectorLabels" -}}
app.kubernetes.io/name: {{ include "staybase.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels and selector labels of one component (web, worker, migrate).
Usage: include "staybase.componentLabels" (list . "web")
*/}}
{{- define "staybase.componentLabels" -}}
{{ include "staybase.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "staybase.componentSelectorLabels" -}}
{{ include "staybase.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/*
Name of the ServiceAccount used by the web and worker pods.
*/}}
{{- define "staybase.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "staybase.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image tag: image.tag, or the chart's appVersion.
*/}}
{{- define "staybase.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/*
Full image reference; a digest, when set, pins the image (the tag stays for readability).
*/}}
{{- define "staybase.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository (include "staybase.imageTag" .) .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "staybase.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
Whether the pre-install/pre-upgrade migration Job runs. It needs a database shared by all
pods (database.external), since a hook pod cannot reach another pod's SQLite file.
*/}}
{{- define "staybase.migrationJobEnabled" -}}
{{- if and .Values.migrations.enabled .Values.database.external }}true{{- end }}
{{- end }}

{{/*
STAYBASE_MIGRATE_ON_START for the web and worker pods: "false" when the hook Job migrates.
*/}}
{{- define "staybase.migrateOnStart" -}}
{{- if include "staybase.migrationJobEnabled" . }}false{{- else }}true{{- end }}
{{- end }}

{{/*
Non-secret settings shared by every Staybase container, as a dict of env var name -> value.
The ConfigMap holds them for the web and worker pods; the migration hook Job gets them
inline (a pre-install hook runs before the release's ConfigMap exists).
*/}}
{{- define "staybase.configEnv" -}}
{{- $env := dict
  "STAYBASE_BIND" (printf "0.0.0.0:%d" (int .Values.containerPort))
  "STAYBASE_METRICS_BIND" (printf "0.0.0.0:%d" (int .Values.metrics.port))
  "STAYBASE_DATA_DIR" "/var/lib/staybase"
  "STAYBASE_LOG" .Values.config.logLevel
  "STAYBASE_LOG_FORMAT" .Values.config.logFormat
  "STAYBASE_HASHING_WORKERS" (toString (int .Values.config.hashingWorkers))
}}
{{- range $k, $v := .Values.config.extra }}
{{- $_ := set $env $k (toString $v) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/*
prometheus.io annotations of the web and worker pods for the metrics port (metrics.podAnnotations).
*/}}
{{- define "staybase.metricsAnnotations" -}}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/*
envFrom entries for the Secret references: existingSecret, then extraEnvFrom.
*/}}
{{- define "staybase.secretEnvFrom" -}}
{{- if .Values.existingSecret }}
- secretRef:
    name: {{ .Values.existingSecret }}
{{- end }}
{{- with .Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
env entries for the secret key (STAYBASE_SECRET_KEY, and the previous one during a rotation).
*/}}
{{- define "staybase.secretKeyEnv" -}}
{{- with .Values.secretKey.secretName }}
- name: STAYBASE_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secretKey.key }}
{{- if $.Values.secretKey.previousKey }}
- name: STAYBASE_SECRET_KEY_PREVIOUS
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secretKey.previousKey }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The Staybase volumes every pod mounts: data (/var/lib/staybase) and tmp (/tmp, TMPDIR).
Usage: include "staybase.volumes" (dict "root" . "persistent" true)
*/}}
{{- define "staybase.volumes" -}}
{{- $root := .root }}
- name: data
{{- if and .persistent $root.Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ $root.Values.persistence.existingClaim | default (include "staybase.fullname" $root) }}
{{- else }}
  emptyDir:
    {{- with $root.Values.dataVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- end }}
- name: tmp
  emptyDir:
    {{- with $root.Values.tmpVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- with $root.Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "staybase.volumeMounts" -}}
- name: data
  mountPath: /var/lib/staybase
- name: tmp
  mountPath: /tmp
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Fail early on value combinations that would deploy a broken Staybase.
*/}}
{{- define "staybase.validate" -}}
{{- $multiPod := or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled .Values.worker.enabled }}
{{- if and $multiPod (not .Values.database.external) }}
{{- fail "staybase: replicaCount > 1, autoscaling.enabled and worker.enabled need a database shared by all pods: set database.external=true and put STAYBASE_DATABASE_URL (postgres://...) in existingSecret. The embedded SQLite database lives in one pod." }}
{{- end }}
{{- if and $multiPod .Values.persistence.enabled (not (has "ReadWriteMany" .Values.persistence.accessModes)) }}
{{- fail "staybase: several pods share the data volume (replicaCount > 1, autoscaling or worker): persistence.accessModes must include ReadWriteMany, or disable persistence." }}
{{- end }}
{{- if and .Values.database.external (not .Values.existingSecret) (not .Values.extraEnv) (not .Values.extraEnvFrom) }}
{{- fail "staybase: database.external=true but no Secret is referenced: set existingSecret (or extraEnv/extraEnvFrom) so that STAYBASE_DATABASE_URL reaches the pods." }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (include "staybase.isSet" .Values.podDisruptionBudget.minAvailable) (include "staybase.isSet" .Values.podDisruptionBudget.maxUnavailable) }}
{{- fail "staybase: set only one of podDisruptionBudget.minAvailable and podDisruptionBudget.maxUnavailable (\"\" the other)." }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (not (include "staybase.isSet" .Values.podDisruptionBudget.minAvailable)) (not (include "staybase.isSet" .Values.podDisruptionBudget.maxUnavailable)) }}
{{- fail "staybase: podDisruptionBudget.enabled needs minAvailable or maxUnavailable." }}
{{- end }}
{{- if and (gt (int .Values.preStopSleepSeconds) 0) (ge (int .Values.preStopSleepSeconds) (int .Values.terminationGracePeriodSeconds)) }}
{{- fail "staybase: preStopSleepSeconds must be shorter than terminationGracePeriodSeconds, or the pod is killed before it shuts down gracefully." }}
{{- end }}
{{- if eq (int .Values.metrics.port) (int .Values.containerPort) }}
{{- fail "staybase: metrics.port must differ from containerPort: /metrics is served apart from the API." }}
{{- end }}
{{- if and .Values.autoscaling.enabled (not .Values.autoscaling.targetCPUUtilizationPercentage) (not .Values.autoscaling.targetMemoryUtilizationPercentage) }}
{{- fail "staybase: autoscaling.enabled needs targetCPUUtilizationPercentage and/or targetMemoryUtilizationPercentage." }}
{{- end }}
{{- end }}

{{/*
topologySpreadConstraints of one component; a constraint without a labelSelector gets the
component's selector labels. Usage: include "staybase.topologySpreadConstraints" (list . "web" .Values.topologySpreadConstraints)
*/}}
{{- define "staybase.topologySpreadConstraints" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- $out := list }}
{{- range (index . 2) }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "staybase.componentSelectorLabels" (list $root $component) | fromYaml)) }}
{{- end }}
{{- $out = append $out $c }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
"true" when a value is set: not null and not the empty string (0 counts as set).
*/}}
{{- define "staybase.isSet" -}}
{{- if not (or (kindIs "invalid" .) (and (kindIs "string" .) (eq . ""))) }}true{{- end }}
{{- end }}
