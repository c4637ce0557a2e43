{{/* Names and labels. */}}
{{- define "sluice.fullname" -}}
{{- if contains "sluice" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-sluice" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.labels" -}}
app.kubernetes.io/name: sluice
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sluice.selector" -}}
app.kubernetes.io/name: sluice
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sluice.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "sluice.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "sluice.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.jobsNamespace" -}}
{{- .Values.kubernetesExecutor.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "sluice.s3Secret" -}}
{{- .Values.s3.existingSecret | default (printf "%s-s3" (include "sluice.fullname" .)) -}}
{{- end -}}

{{- define "sluice.authSecret" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "sluice.fullname" .)) -}}
{{- end -}}

{{/* Which executors may run which function, for the gateway's check at deploy
(SLUICE_DEPLOY_EXECUTORS): each pool's functions with its executor, and `*` with the
executor of the first pool that serves every function (it consumes every queue). */}}
{{- define "sluice.deployExecutors" -}}
{{- $entries := list -}}
{{- $all := "" -}}
{{- range $pool := .Values.workers.pools -}}
{{- $executor := $pool.executor | default "kubernetes" -}}
{{- range $fn := $pool.functions -}}
{{- $entries = append $entries (printf "%s=%s" $fn $executor) -}}
{{- end -}}
{{- if and (not $pool.functions) (not $all) -}}
{{- $all = $executor -}}
{{- $entries = append $entries (printf "*=%s" $executor) -}}
{{- end -}}
{{- end -}}
{{- join "," $entries -}}
{{- end -}}

{{/* The settings every Sluice process reads (see the README's table of SLUICE_* variables). */}}
{{- define "sluice.env" -}}
- name: SLUICE_HOST
  value: "0.0.0.0"
- name: SLUICE_QUEUE
  value: {{ .Values.rabbitmq.queue | quote }}
- name: SLUICE_BROKER_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.rabbitmq.existingSecret | default (printf "%s-rabbitmq" (include "sluice.fullname" .)) }}
      key: url
- name: SLUICE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret | default (printf "%s-database" (include "sluice.fullname" .)) }}
      key: url
- name: SLUICE_S3_REGION
  value: {{ .Values.s3.region | quote }}
- name: SLUICE_S3_SYSTEM_BUCKET
  value: {{ .Values.s3.systemBucket | quote }}
- name: SLUICE_S3_BUCKET
  value: {{ .Values.s3.bucket | quote }}
{{- if .Values.s3.publicUrl }}
- name: SLUICE_S3_PUBLIC_URL
  value: {{ .Values.s3.publicUrl | quote }}
{{- end }}
{{- end -}}

{{- define "sluice.envFrom" -}}
- secretRef:
    name: {{ include "sluice.s3Secret" . }}
- secretRef:
    name: {{ include "sluice.authSecret" . }}
{{- end -}}

{{- define "sluice.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "sluice.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
