{{/*
The RayCluster spec, shared by the long-lived RayCluster and a RayJob that brings its own cluster.
Pods mount the run config (ConfigMap) at /etc/crosslm and the data claim at crosslm.storage.mountPath.
*/}}
{{- define "sharelm.crosslm.podSpec" -}}
{{- $root := index . 0 -}}
{{- $x := $root.Values.crosslm -}}
{{- $container := index . 1 -}}
{{- $group := index . 2 -}}
{{- include "sharelm.imagePullSecrets" $root }}
automountServiceAccountToken: false
# Ray's image runs as its `ray` user (uid 1000, group users).
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 100
  fsGroup: 100
  seccompProfile:
    type: RuntimeDefault
containers:
  - name: {{ $container }}
    image: {{ include "sharelm.image" (list $root $x.image) }}
    imagePullPolicy: {{ $x.image.pullPolicy }}
    {{- if eq $container "ray-head" }}
    ports:
      - name: gcs-server
        containerPort: 6379
      - name: dashboard
        containerPort: 8265
      - name: client
        containerPort: 10001
    {{- end }}
    env:
      - name: HF_HOME
        value: /tmp/hf
      {{- with $x.hubTokenSecret.name }}
      - name: HF_TOKEN
        valueFrom:
          secretKeyRef:
            name: {{ . }}
            key: {{ $x.hubTokenSecret.key }}
      {{- end }}
    resources:
      requests:
        {{- toYaml $group.resources.requests | nindent 8 }}
        {{- if gt (int $group.gpu) 0 }}
        nvidia.com/gpu: {{ $group.gpu }}
        {{- end }}
      limits:
        {{- toYaml $group.resources.limits | nindent 8 }}
        {{- if gt (int $group.gpu) 0 }}
        nvidia.com/gpu: {{ $group.gpu }}
        {{- end }}
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
    volumeMounts:
      - name: run-config
        mountPath: /etc/crosslm
        readOnly: true
      - name: data
        mountPath: {{ $x.storage.mountPath }}
      # Ray's object store lives in shared memory; the container default of 64 MiB is far too small.
      - name: dshm
        mountPath: /dev/shm
volumes:
  - name: run-config
    configMap:
      name: {{ include "sharelm.component" (list $root "crosslm") }}
  - name: data
    persistentVolumeClaim:
      claimName: {{ required "crosslm.storage.existingClaim: a ReadWriteMany claim holding the collection snapshot" $x.storage.existingClaim }}
  - name: dshm
    emptyDir:
      medium: Memory
{{- $gpu := gt (int $group.gpu) 0 }}
{{- $nodeSelector := merge (deepCopy $group.nodeSelector) (ternary $x.gpuNodeSelector dict $gpu) }}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $tolerations := concat $group.tolerations (ternary $x.gpuTolerations list $gpu) }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "sharelm.crosslm.rayClusterSpec" -}}
{{- $x := .Values.crosslm -}}
rayVersion: {{ $x.rayVersion | quote }}
enableInTreeAutoscaling: {{ $x.autoscaling }}
{{- if $x.autoscaling }}
autoscalerOptions:
  upscalingMode: Default
  idleTimeoutSeconds: 300
{{- end }}
headGroupSpec:
  rayStartParams:
    dashboard-host: "0.0.0.0"
  template:
    metadata:
      labels:
        {{- include "sharelm.labels" (list . "crosslm-head") | nindent 8 }}
    spec:
      {{- include "sharelm.crosslm.podSpec" (list . "ray-head" $x.head) | nindent 6 }}
workerGroupSpecs:
  - groupName: workers
    replicas: {{ $x.workers.replicas }}
    minReplicas: {{ $x.workers.minReplicas }}
    maxReplicas: {{ $x.workers.maxReplicas }}
    rayStartParams: {}
    template:
      metadata:
        labels:
          {{- include "sharelm.labels" (list . "crosslm-worker") | nindent 10 }}
      spec:
        {{- include "sharelm.crosslm.podSpec" (list . "ray-worker" $x.workers) | nindent 8 }}
{{- end }}
