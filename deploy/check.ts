/**
 * `npm run check:deploy` (after `tsc -p deploy`, which is the schema check of
 * the Kubernetes manifests): fails when
 *
 * - a committed `deploy/k8s/*.yaml` differs from what `manifests.ts` renders,
 *   or a YAML file there is not rendered by it;
 * - the manifests disagree with each other (selectors, ports, names);
 * - `deploy/compose.yaml` lacks a service, a health check, distinct runner
 *   addresses, or writes a secret;
 * - `deploy/Dockerfile` misses a workspace or the basics of the image;
 * - `deploy/nginx.conf` would buffer event streams or miss an api node.
 */
import { readdirSync, readFileSync } from "node:fs"
import * as Path from "node:path"
import { parse, parseAllDocuments } from "yaml"
import {
  apiAutoscalerCpu,
  apiAutoscalerSse,
  apiDeployment,
  apiPodDisruptionBudget,
  apiService,
  configMap,
  files,
  httpPort,
  kustomization,
  runnerDeployment,
  runnerPodDisruptionBudget,
  runnerPort,
  runnerService
} from "./k8s/manifests.js"
import { directory as k8sDirectory, rendered } from "./k8s/render.js"

const deployDirectory = Path.dirname(k8sDirectory)
const root = Path.dirname(deployDirectory)
const problems: Array<string> = []
const expect = (ok: boolean, problem: string) => {
  if (!ok) problems.push(problem)
}
const read = (path: string) => readFileSync(Path.join(root, path), "utf8")

// --- Kubernetes: committed YAML is the rendered YAML -------------------------

const expected = rendered()
for (const file of expected) {
  let committed: string | undefined
  try {
    committed = read(Path.join("deploy/k8s", file.name))
  } catch {
    committed = undefined
  }
  expect(committed !== undefined, `deploy/k8s/${file.name} is missing: run npm run deploy:render`)
  if (committed !== undefined) {
    expect(committed === file.text, `deploy/k8s/${file.name} differs from manifests.ts: run npm run deploy:render`)
    const errors = parseAllDocuments(committed).flatMap((d) => d.errors.map((e) => e.message))
    expect(errors.length === 0, `deploy/k8s/${file.name} does not parse: ${errors.join("; ")}`)
  }
}
const names = new Set(expected.map((f) => f.name))
for (const name of readdirSync(k8sDirectory).filter((n) => n.endsWith(".yaml") || n.endsWith(".yml"))) {
  expect(names.has(name), `deploy/k8s/${name} is not rendered by manifests.ts: remove it or add it there`)
}

// --- Kubernetes: the objects agree with each other ----------------------------

const sameLabels = (a: Record<string, string> | undefined, b: Record<string, string> | undefined) =>
  JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b ?? {}).sort())

for (
  const [deployment, service, budget] of [
    [apiDeployment, apiService, apiPodDisruptionBudget],
    [runnerDeployment, runnerService, runnerPodDisruptionBudget]
  ] as const
) {
  const name = deployment.metadata?.name ?? "?"
  const podLabels = deployment.spec?.template.metadata?.labels
  expect(
    sameLabels(deployment.spec?.selector.matchLabels, podLabels),
    `${name}: selector does not match the pod labels`
  )
  expect(
    sameLabels(service.spec?.selector, podLabels),
    `${service.metadata?.name}: Service selector does not match ${name}'s pods`
  )
  expect(
    sameLabels(budget.spec?.selector?.matchLabels, podLabels),
    `${budget.metadata?.name}: PodDisruptionBudget selector does not match ${name}'s pods`
  )
  const container = deployment.spec?.template.spec?.containers[0]
  const portNames = new Set((container?.ports ?? []).map((p) => p.name))
  for (const port of service.spec?.ports ?? []) {
    expect(
      typeof port.targetPort !== "string" || portNames.has(port.targetPort),
      `${service.metadata?.name}: target port ${port.targetPort} is not a container port of ${name}`
    )
  }
  for (const probe of [container?.startupProbe, container?.readinessProbe, container?.livenessProbe]) {
    const port = probe?.httpGet?.port
    expect(
      probe !== undefined && (typeof port !== "string" || portNames.has(port)),
      `${name}: every probe must exist and use a container port`
    )
  }
  expect(
    (container?.envFrom ?? []).some((e) => e.configMapRef?.name === configMap.metadata?.name),
    `${name}: must read the ${configMap.metadata?.name} ConfigMap`
  )
  const env = new Map((container?.env ?? []).map((e) => [e.name, e]))
  for (const secret of ["DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "CHANNEL_KEY"]) {
    expect(env.get(secret)?.valueFrom?.secretKeyRef !== undefined, `${name}: ${secret} must come from a Secret`)
  }
  expect(env.get("TROUPE_ROLE")?.value === (name === "troupe-api" ? "api" : "runner"), `${name}: wrong TROUPE_ROLE`)
}
const runnerEnv = new Map((runnerDeployment.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e]))
expect(
  runnerEnv.get("CLUSTER_RUNNER_HOST")?.valueFrom?.fieldRef?.fieldPath === "status.podIP",
  "troupe-runner: CLUSTER_RUNNER_HOST must be the pod IP"
)
expect(
  runnerEnv.get("CLUSTER_RUNNER_PORT")?.value === String(runnerPort),
  "troupe-runner: CLUSTER_RUNNER_PORT must be the cluster port"
)
expect(runnerService.spec?.clusterIP === "None", "troupe-runner: the runner Service must be headless")
expect(configMap.data?.["PORT"] === String(httpPort), "troupe-config: PORT must be the container's http port")
expect(
  configMap.data?.["CLUSTER_SHARDS"] !== undefined,
  "troupe-config: CLUSTER_SHARDS must be set once for every node"
)
for (const hpa of [apiAutoscalerCpu, apiAutoscalerSse]) {
  expect(hpa.spec?.scaleTargetRef.name === apiDeployment.metadata?.name, "the autoscaler must target troupe-api")
}
expect(apiDeployment.spec?.replicas === undefined, "troupe-api: leave replicas to the autoscaler")
for (const resource of kustomization.resources) {
  expect(files.some((f) => f.name === resource), `kustomization.yaml lists ${resource}, which is not rendered`)
}

// --- Compose --------------------------------------------------------------------

interface ComposeService {
  readonly image?: string
  readonly healthcheck?: { readonly test?: unknown }
  readonly environment?: Record<string, string | number | null>
  readonly depends_on?: Record<string, { readonly condition?: string }>
  readonly volumes?: ReadonlyArray<string>
}

/** The password part of a URL's user info, if any (`scheme://user:password@host`). */
const passwordOf = (url: string): string | undefined => {
  const rest = url.slice(url.indexOf("://") + 3)
  const at = rest.lastIndexOf("@")
  if (at < 0) return undefined
  const userInfo = rest.slice(0, at)
  const colon = userInfo.indexOf(":")
  return colon < 0 ? undefined : userInfo.slice(colon + 1)
}

// The YAML parser answers an untyped document; the type is the shape deploy/compose.yaml, in this repository, has.
const compose = parse(read("deploy/compose.yaml"), { merge: true }) as { services?: Record<string, ComposeService> }
const services = compose.services ?? {}
const apis = ["api-1", "api-2"]
const runners = ["runner-1", "runner-2", "runner-3"]
for (const name of ["postgres", "redis", "otel-collector", "lb", ...apis, ...runners]) {
  expect(services[name] !== undefined, `compose.yaml: service ${name} is missing`)
}
const postgresImage = /^postgres:(\d+)/.exec(services["postgres"]?.image ?? "")
expect(postgresImage !== null && Number(postgresImage[1]) >= 15, "compose.yaml: postgres must be version 15 or later")
for (const name of ["postgres", "redis", "lb", ...apis, ...runners]) {
  expect(services[name]?.healthcheck?.test !== undefined, `compose.yaml: ${name} needs a healthcheck`)
}
for (const [name, service] of Object.entries(services)) {
  for (const [dependency, condition] of Object.entries(service.depends_on ?? {})) {
    expect(services[dependency] !== undefined, `compose.yaml: ${name} depends on unknown service ${dependency}`)
    expect(
      condition.condition !== undefined,
      `compose.yaml: ${name} must say which condition of ${dependency} it waits for`
    )
  }
  for (const [key, value] of Object.entries(service.environment ?? {})) {
    if (/KEY|SECRET|PASSWORD|TOKEN/.test(key)) {
      expect(
        value === null || String(value).startsWith("${"),
        `compose.yaml: ${name}.${key} must come from the environment, not the file`
      )
    }
    const password = key.endsWith("_URL") && value !== null ? passwordOf(String(value)) : undefined
    expect(password === undefined || password.startsWith("${"), `compose.yaml: ${name}.${key} has a literal password`)
  }
  for (const volume of service.volumes ?? []) {
    const source = volume.split(":")[0] ?? ""
    if (source.startsWith("./")) {
      let exists = true
      try {
        readFileSync(Path.join(deployDirectory, source))
      } catch {
        exists = false
      }
      expect(exists, `compose.yaml: ${name} mounts ${source}, which does not exist`)
    }
  }
}
const env = (name: string) => services[name]?.environment ?? {}
for (const name of apis) expect(env(name)["TROUPE_ROLE"] === "api", `compose.yaml: ${name} must have TROUPE_ROLE=api`)
for (const name of runners) {
  expect(env(name)["TROUPE_ROLE"] === "runner", `compose.yaml: ${name} must have TROUPE_ROLE=runner`)
  expect(env(name)["CLUSTER_RUNNER_HOST"] === name, `compose.yaml: ${name} must have CLUSTER_RUNNER_HOST=${name}`)
  expect(
    /^\d+$/.test(String(env(name)["CLUSTER_RUNNER_PORT"] ?? "")),
    `compose.yaml: ${name} needs a fixed CLUSTER_RUNNER_PORT`
  )
}
const runnerHosts = runners.map((name) => env(name)["CLUSTER_RUNNER_HOST"])
expect(new Set(runnerHosts).size === runners.length, "compose.yaml: runners must have distinct CLUSTER_RUNNER_HOST")
const shardCounts = new Set([...apis, ...runners].map((name) => env(name)["CLUSTER_SHARDS"]))
expect(shardCounts.size === 1, "compose.yaml: every node must have the same CLUSTER_SHARDS")
for (const name of [...apis, ...runners]) {
  expect(
    env(name)["DATABASE_URL"] !== undefined && env(name)["REDIS_URL"] !== undefined,
    `compose.yaml: ${name} needs DATABASE_URL and REDIS_URL`
  )
}

// --- nginx ------------------------------------------------------------------------

const nginx = read("deploy/nginx.conf")
for (const directive of ["proxy_buffering off;", "proxy_http_version 1.1;", "proxy_read_timeout"]) {
  expect(nginx.includes(directive), `nginx.conf: ${directive} is missing (event streams need it)`)
}
expect(/location = \/metrics \{\s*return 404;/.test(nginx), "nginx.conf: /metrics must not be public")
for (const name of apis) {
  expect(nginx.includes(`server ${name}:`), `nginx.conf: api node ${name} is not in the upstream`)
}

// --- Dockerfile -------------------------------------------------------------------

const dockerfile = read("deploy/Dockerfile")
const workspaces = ["packages", "apps"].flatMap((top) =>
  readdirSync(Path.join(root, top)).map((d) => `${top}/${d}`).filter((d) => {
    try {
      readFileSync(Path.join(root, d, "package.json"))
      return true
    } catch {
      return false
    }
  })
)
for (const workspace of workspaces) {
  expect(
    dockerfile.includes(`COPY ${workspace}/package.json ${workspace}/`),
    `Dockerfile: copy ${workspace}/package.json before npm ci`
  )
}
for (
  const [pattern, problem] of [
    [/^FROM node:20-slim AS runtime$/m, "the runtime stage must be node:20-slim"],
    [/npm ci\b/, "the build stage must run npm ci"],
    [/npx tsc -b/, "the build stage must type check with tsc -b"],
    [/^USER (?!root)\S+$/m, "the image must run as a user other than root"],
    [/HOST=0\.0\.0\.0/, "the image must listen on 0.0.0.0"],
    [
      new RegExp(`^EXPOSE .*\\b${httpPort}\\b.*\\b${runnerPort}\\b`, "m"),
      `the image must expose ${httpPort} and ${runnerPort}`
    ],
    [/^HEALTHCHECK .*\n?.*\/health\/live/m, "the image needs a HEALTHCHECK on /health/live"]
  ] as const
) {
  expect(pattern.test(dockerfile), `Dockerfile: ${problem}`)
}

if (problems.length > 0) {
  console.error(`check:deploy found ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join("\n")}`)
  process.exit(1)
}
console.log(
  `check:deploy: ${expected.length} Kubernetes files match manifests.ts; compose, nginx and Dockerfile are consistent`
)
