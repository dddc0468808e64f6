/**
 * Kubernetes manifests for Troupe, as objects typed with `kubernetes-types`:
 * type checking this file is the schema check. `render.ts` writes them to
 * `deploy/k8s/*.yaml`, and `deploy/check.ts` fails when the committed YAML
 * differs from what this file renders.
 *
 * One image, two Deployments: `troupe-api` (HTTP and SSE, a client-only
 * cluster member, scaled by an HPA) and `troupe-runner` (hosts teammate
 * entities; runners share shards through Postgres and reach each other on
 * their pod IPs). Settings come from the `troupe-config` ConfigMap; secrets
 * from the `troupe-secrets` Secret, which the operator creates (see
 * docs/operations.md).
 */
import type { Deployment } from "kubernetes-types/apps/v1.js"
import type { HorizontalPodAutoscaler, MetricSpec } from "kubernetes-types/autoscaling/v2.js"
import type {
  ConfigMap,
  Container,
  ContainerPort,
  EnvVar,
  PodSecurityContext,
  PodSpec,
  Probe,
  ResourceRequirements,
  SecurityContext,
  Service
} from "kubernetes-types/core/v1.js"
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js"

/** Name of the image built from `deploy/Dockerfile`; `kustomization.yaml` maps it to your registry. */
export const imageName = "troupe"

/** The image every pod runs. */
export const image = `${imageName}:0.1.0`

/** HTTP port of every node (`PORT`): the API on api nodes, the probes on runners. */
export const httpPort = 8787

/** Port runners listen on for cluster traffic (`CLUSTER_RUNNER_PORT`). */
export const runnerPort = 34431

/** Name of the ConfigMap that both roles read, so that settings such as `CLUSTER_SHARDS` agree. */
export const configMapName = "troupe-config"

/**
 * Name of the Secret the operator creates with `DATABASE_URL`, `REDIS_URL`
 * and optionally `OPENAI_API_KEY` and `CHANNEL_KEY`.
 */
export const secretName = "troupe-secrets"

/** Where Prometheus finds each pod's metrics, by the common `prometheus.io/*` annotations. */
const scrapeAnnotations: Record<string, string> = {
  "prometheus.io/scrape": "true",
  "prometheus.io/port": String(httpPort),
  "prometheus.io/path": "/metrics"
}

/** Node roles run as Deployments. */
export type Component = "api" | "runner"

/** Labels of a component's objects; the same labels select its pods. */
export const labels = (component: Component): Record<string, string> => ({
  "app.kubernetes.io/name": "troupe",
  "app.kubernetes.io/component": component
})

/**
 * Settings shared by every node, spelled out at their defaults so that an
 * operator changes them in one place, and logs as JSON lines. `OPENAI_BASE_URL`,
 * `ALLOWED_MODELS` and `OTEL_EXPORTER_OTLP_ENDPOINT` are left out on purpose:
 * an empty value counts as set. Add them here when they are wanted.
 */
export const configMap: ConfigMap = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: configMapName, labels: { "app.kubernetes.io/name": "troupe" } },
  data: {
    HOST: "0.0.0.0",
    PORT: String(httpPort),
    DATABASE_POOL_SIZE: "20",
    REDIS_PREFIX: "troupe:",
    EVENT_RETENTION: "24 hours",
    EVENT_POLL_INTERVAL: "1 second",
    SSE_HEARTBEAT: "15 seconds",
    RATE_USER_WRITES_PER_MIN: "120",
    RATE_ORG_WRITES_PER_MIN: "3000",
    ORG_CONCURRENT_WRITES: "8",
    RATE_LOGIN_PER_15MIN: "10",
    RATE_LOGIN_PER_ADDRESS_PER_15MIN: "300",
    RATE_SIGNUP_PER_ADDRESS_PER_HOUR: "100",
    TRUST_PROXY: "true",
    CLUSTER_MESSAGE_RETENTION: "24 hours",
    CLUSTER_SHARDS: "300",
    CLUSTER_LOCK_EXPIRATION: "4 seconds",
    CLUSTER_LOCK_REFRESH: "1 second",
    CLUSTER_ASSIGNMENT_REFRESH: "500 millis",
    CLUSTER_HEALTH_INTERVAL: "2 seconds",
    CLUSTER_MESSAGE_POLL: "500 millis",
    DEFAULT_MODEL: "gpt-4o-mini",
    TURN_MAX_MODEL_CALLS: "5",
    MODEL_ATTEMPTS: "3",
    MODEL_FIRST_TOKEN_TIMEOUT: "60 seconds",
    MODEL_IDLE_TIMEOUT: "30 seconds",
    LOG_FORMAT: "json"
  }
}

const secretEnv = (name: string, optional: boolean): EnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: secretName, key: name, optional } }
})

/**
 * Secrets every node reads. Without `OPENAI_API_KEY` teammates use the local
 * model; without `CHANNEL_KEY` no channel account (Slack, Telegram) can be
 * connected.
 */
const secrets: Array<EnvVar> = [
  secretEnv("DATABASE_URL", false),
  secretEnv("REDIS_URL", false),
  secretEnv("OPENAI_API_KEY", true),
  secretEnv("CHANNEL_KEY", true)
]

const httpGet = (path: string, periodSeconds: number, failureThreshold: number): Probe => ({
  httpGet: { path, port: "http" },
  periodSeconds,
  timeoutSeconds: 3,
  failureThreshold
})

/** Start-up runs migrations (under the migrator's lock) before the node answers: allow two minutes. */
const startupProbe = httpGet("/health/live", 2, 60)
/** Ready while the node reaches Postgres. */
const readinessProbe = httpGet("/health/ready", 5, 3)
/** Restarted when the process stops answering at all. */
const livenessProbe = httpGet("/health/live", 10, 6)

const podSecurityContext: PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  seccompProfile: { type: "RuntimeDefault" }
}

/** The image's code is read-only; tsx keeps its compile cache in `/tmp`, an emptyDir. */
const securityContext: SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] }
}

/** Starting points: measure and adjust. No CPU limit, so a busy node is not throttled. */
const resources: ResourceRequirements = {
  requests: { cpu: "250m", memory: "256Mi" },
  limits: { memory: "1Gi" }
}

const container = (component: Component, env: Array<EnvVar>, ports: Array<ContainerPort>): Container => ({
  name: "troupe",
  image,
  imagePullPolicy: "IfNotPresent",
  ports: [{ name: "http", containerPort: httpPort, protocol: "TCP" }, ...ports],
  envFrom: [{ configMapRef: { name: configMapName } }],
  env: [{ name: "TROUPE_ROLE", value: component }, ...env, ...secrets],
  startupProbe,
  readinessProbe,
  livenessProbe,
  resources,
  securityContext,
  volumeMounts: [{ name: "tmp", mountPath: "/tmp" }]
})

const podSpec = (component: Component, container: Container, terminationGracePeriodSeconds: number): PodSpec => ({
  terminationGracePeriodSeconds,
  securityContext: podSecurityContext,
  topologySpreadConstraints: [{
    maxSkew: 1,
    topologyKey: "kubernetes.io/hostname",
    whenUnsatisfiable: "ScheduleAnyway",
    labelSelector: { matchLabels: labels(component) }
  }],
  containers: [container],
  volumes: [{ name: "tmp", emptyDir: {} }]
})

/**
 * API nodes: stateless, so they roll and scale freely. No `replicas`: the HPA
 * owns the count. The pre-stop pause lets the Service drop the pod before
 * SIGTERM closes its streams; clients then resume elsewhere with `Last-Event-ID`.
 */
export const apiDeployment: Deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "troupe-api", labels: labels("api") },
  spec: {
    selector: { matchLabels: labels("api") },
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: 0 } },
    template: {
      metadata: { labels: labels("api"), annotations: scrapeAnnotations },
      spec: podSpec("api", {
        ...container("api", [], []),
        lifecycle: { preStop: { exec: { command: ["sleep", "5"] } } }
      }, 30)
    }
  }
}

/** The API behind one stable address; put an Ingress or load balancer in front that does not buffer SSE. */
export const apiService: Service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "troupe-api", labels: labels("api") },
  spec: {
    type: "ClusterIP",
    selector: labels("api"),
    ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]
  }
}

/** Keeps at least one API node through voluntary disruptions (drains, upgrades). */
export const apiPodDisruptionBudget: PodDisruptionBudget = {
  apiVersion: "policy/v1",
  kind: "PodDisruptionBudget",
  metadata: { name: "troupe-api", labels: labels("api") },
  spec: { minAvailable: 1, selector: { matchLabels: labels("api") } }
}

const cpuMetric: MetricSpec = {
  type: "Resource",
  resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } }
}

/** Open SSE streams per pod, served by the Prometheus adapter (see docs/operations.md). */
const sseMetric: MetricSpec = {
  type: "Pods",
  pods: { metric: { name: "troupe_sse_connections" }, target: { type: "AverageValue", averageValue: "1000" } }
}

/**
 * Scale-down is slow and one pod at a time: removing an API node ends its
 * streams and their clients reconnect elsewhere.
 */
const apiAutoscaler = (metrics: Array<MetricSpec>): HorizontalPodAutoscaler => ({
  apiVersion: "autoscaling/v2",
  kind: "HorizontalPodAutoscaler",
  metadata: { name: "troupe-api", labels: labels("api") },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "troupe-api" },
    minReplicas: 2,
    maxReplicas: 10,
    metrics,
    behavior: {
      scaleDown: { stabilizationWindowSeconds: 600, policies: [{ type: "Pods", value: 1, periodSeconds: 120 }] }
    }
  }
})

/** The default autoscaler: CPU only. */
export const apiAutoscalerCpu = apiAutoscaler([cpuMetric])

/** The alternative (same name, so it replaces the default): CPU or open SSE streams, whichever asks for more pods. */
export const apiAutoscalerSse = apiAutoscaler([cpuMetric, sseMetric])

/**
 * Runners: each registers its pod IP and `runnerPort` as its cluster address.
 * One at a time on a rollout (a new runner takes 6 to 10 seconds to receive
 * shards); SIGTERM hands its shards over.
 */
export const runnerDeployment: Deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "troupe-runner", labels: labels("runner") },
  spec: {
    replicas: 3,
    minReadySeconds: 10,
    selector: { matchLabels: labels("runner") },
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    template: {
      metadata: { labels: labels("runner"), annotations: scrapeAnnotations },
      spec: podSpec(
        "runner",
        container("runner", [
          { name: "CLUSTER_RUNNER_HOST", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
          { name: "CLUSTER_RUNNER_PORT", value: String(runnerPort) },
          { name: "CLUSTER_LISTEN_HOST", value: "0.0.0.0" }
        ], [{ name: "cluster", containerPort: runnerPort, protocol: "TCP" }]),
        60
      )
    }
  }
}

/** Headless: one DNS record per runner pod, ready or not, for cluster traffic between nodes. */
export const runnerService: Service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "troupe-runner", labels: labels("runner") },
  spec: {
    clusterIP: "None",
    publishNotReadyAddresses: true,
    selector: labels("runner"),
    ports: [
      { name: "cluster", port: runnerPort, targetPort: "cluster", protocol: "TCP" },
      { name: "http", port: httpPort, targetPort: "http", protocol: "TCP" }
    ]
  }
}

/** At most one runner down at a time through voluntary disruptions. */
export const runnerPodDisruptionBudget: PodDisruptionBudget = {
  apiVersion: "policy/v1",
  kind: "PodDisruptionBudget",
  metadata: { name: "troupe-runner", labels: labels("runner") },
  spec: { maxUnavailable: 1, selector: { matchLabels: labels("runner") } }
}

/** The part of kustomize's `Kustomization` used here (kubernetes-types does not cover kustomize). */
export interface Kustomization {
  readonly apiVersion: "kustomize.config.k8s.io/v1beta1"
  readonly kind: "Kustomization"
  readonly resources: ReadonlyArray<string>
  readonly images: ReadonlyArray<{ readonly name: string; readonly newName: string; readonly newTag: string }>
}

/** Every manifest this directory holds. */
export type Manifest = ConfigMap | Deployment | Service | PodDisruptionBudget | HorizontalPodAutoscaler | Kustomization

/** One rendered file and the documents in it. */
export interface ManifestFile {
  readonly name: string
  readonly documents: ReadonlyArray<Manifest>
}

const defaultResources = ["configmap.yaml", "api.yaml", "api-hpa.yaml", "runner.yaml"] as const

/** `kubectl apply -k deploy/k8s`: everything but the SSE autoscaler; set the image to your registry here. */
export const kustomization: Kustomization = {
  apiVersion: "kustomize.config.k8s.io/v1beta1",
  kind: "Kustomization",
  resources: defaultResources,
  images: [{ name: imageName, newName: imageName, newTag: "0.1.0" }]
}

/** The files of `deploy/k8s/`, in the order they are written. */
export const files: ReadonlyArray<ManifestFile> = [
  { name: "configmap.yaml", documents: [configMap] },
  { name: "api.yaml", documents: [apiDeployment, apiService, apiPodDisruptionBudget] },
  { name: "api-hpa.yaml", documents: [apiAutoscalerCpu] },
  { name: "api-hpa-sse.yaml", documents: [apiAutoscalerSse] },
  { name: "runner.yaml", documents: [runnerDeployment, runnerService, runnerPodDisruptionBudget] },
  { name: "kustomization.yaml", documents: [kustomization] }
]
