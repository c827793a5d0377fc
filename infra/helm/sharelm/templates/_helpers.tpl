{{/* Names, labels and the pieces the templates share. */}}

{{- define "sharelm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sharelm.fullname" -}}
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

{{/* "<release>-<component>", e.g. sharelm-collector. Call with (list $ "collector"). */}}
{{- define "sharelm.component" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "sharelm.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sharelm.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: sharelm
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
{{ include "sharelm.selectorLabels" . }}
{{- end }}

{{- define "sharelm.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "sharelm.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* image reference: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "sharelm.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 }}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) }}
{{- end }}

{{- define "sharelm.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The collector's database environment: DATABASE_URL from the external-database Secret, or built from the
in-chart PostgreSQL and its password Secret (Kubernetes expands $(POSTGRES_PASSWORD) inside the value).
Used by the collector Deployment and the migrations Job, so both always talk to the same database.
*/}}
{{- define "sharelm.collector.databaseEnv" -}}
{{- if .Values.postgresql.enabled }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "postgresql.auth.secretName: name an existing Secret holding the PostgreSQL password" .Values.postgresql.auth.secretName }}
      key: {{ .Values.postgresql.auth.secretKey }}
- name: DATABASE_URL
  value: {{ printf "postgresql://%s:$(POSTGRES_PASSWORD)@%s:5432/%s" .Values.postgresql.auth.username (include "sharelm.component" (list . "postgresql")) .Values.postgresql.auth.database | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "collector.externalDatabase.secretName: with postgresql.enabled=false, name an existing Secret holding the database URL" .Values.collector.externalDatabase.secretName }}
      key: {{ .Values.collector.externalDatabase.secretKey }}
{{- end }}
{{- end }}
