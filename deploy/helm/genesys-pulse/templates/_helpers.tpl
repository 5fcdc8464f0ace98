{{/* Names and labels shared by every template. */}}

{{- define "genesys-pulse.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "genesys-pulse.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "genesys-pulse.labels" -}}
app.kubernetes.io/name: {{ include "genesys-pulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "genesys-pulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "genesys-pulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: monitor
{{- end -}}

{{- define "genesys-pulse.collectorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "genesys-pulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: collector
{{- end -}}

{{- define "genesys-pulse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "genesys-pulse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "genesys-pulse.orgSecretName" -}}
{{- if .org.existingSecret -}}
{{- .org.existingSecret -}}
{{- else -}}
{{- printf "%s-org-%s" (include "genesys-pulse.fullname" .root) .org.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "genesys-pulse.otlpEndpoint" -}}
{{- if .Values.otlpEndpoint -}}
{{- .Values.otlpEndpoint -}}
{{- else if .Values.collector.enabled -}}
{{- printf "http://%s-collector:4318" (include "genesys-pulse.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "genesys-pulse.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
