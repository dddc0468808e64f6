/**
 * What a node measures, recorded with Effect's `Metric` API (one registry per
 * process) and served as Prometheus text at `/metrics` on every node.
 *
 * The cluster library records its own gauges in the same registry:
 * `effect_cluster_shards` (shards this runner holds), `effect_cluster_entities`
 * (live entities by type), `effect_cluster_runners`,
 * `effect_cluster_runners_healthy` and `effect_cluster_singletons`.
 */
import { HttpApi, HttpMiddleware, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { Clock, Effect, Metric, MetricBoundaries, MetricLabel } from "effect"
import * as Prometheus from "./Prometheus.js"

const seconds = (from: bigint, to: bigint) => Number(to - from) / 1e9

const labelled = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, labels: Record<string, string>) =>
  Metric.taggedWithLabels(metric, Object.entries(labels).map(([key, value]) => MetricLabel.make(key, value)))

/** HTTP requests answered, by `method`, `route` (the route pattern, `unmatched` for unknown paths) and `status`. */
export const httpRequests = Metric.counter("troupe_http_requests_total", {
  description: "HTTP requests answered, by method, route pattern and status.",
  incremental: true
})

/** Time to produce a response (for streams: until the stream starts), by `method` and `route`. */
export const httpRequestDuration = Metric.histogram(
  "troupe_http_request_duration_seconds",
  MetricBoundaries.fromIterable([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  "Time to produce an HTTP response (streams: until the stream starts), by method and route pattern."
)

/** Paths served without a trace span (scrapes and probes); they are their own route label. */
export const untracedPaths: ReadonlyArray<string> = ["/metrics", "/health/live", "/health/ready"]

interface RoutePattern {
  readonly method: string
  readonly pattern: string
  readonly regex: RegExp
}

const routePattern = (method: string, pattern: string): RoutePattern => ({
  method,
  pattern,
  regex: new RegExp(
    `^${
      pattern.split("/").map((part) => part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("/")
    }$`
  )
})

/**
 * The route patterns a request can match: the contract's endpoints and the
 * server's own pages. Taken from the contract rather than from the router's
 * span, so labels are right whether or not traces are made.
 */
const routes: ReadonlyArray<RoutePattern> = (() => {
  const out: Array<RoutePattern> = []
  HttpApi.reflect(TroupeApi, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint }) => out.push(routePattern(endpoint.method, endpoint.path))
  })
  for (const path of ["/docs", "/v1/openapi.json", ...untracedPaths]) out.push(routePattern("GET", path))
  return out
})()

/** The request's route pattern, `unmatched` for unknown paths (so ids never become labels). */
export const routeOf = (method: string, url: string): string => {
  const path = url.split("?")[0] ?? ""
  return routes.find((r) => r.method === method && r.regex.test(path))?.pattern ?? "unmatched"
}

/** The labelled series, made once per label set rather than once per request. */
const series = new Map<
  string,
  { readonly requests: typeof httpRequests; readonly duration: typeof httpRequestDuration }
>()
const seriesOf = (method: string, route: string, status: string) => {
  const key = `${method} ${route} ${status}`
  let found = series.get(key)
  if (found === undefined) {
    found = {
      requests: labelled(httpRequests, { method, route, status }),
      duration: labelled(httpRequestDuration, { method, route })
    }
    series.set(key, found)
  }
  return found
}

/**
 * Counts and times every request, labelled by its route pattern.
 */
export const requestMetrics = HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const start = yield* Clock.currentTimeNanos
    const exit = yield* Effect.exit(app)
    const status = HttpServerError.exitResponse(exit).status
    const elapsed = seconds(start, yield* Clock.currentTimeNanos)
    const metrics = seriesOf(request.method, routeOf(request.method, request.url), String(status))
    yield* Metric.increment(metrics.requests)
    yield* Metric.update(metrics.duration, elapsed)
    return yield* exit
  })
)

/** The registry as a Prometheus text response (scrapes are left out of the access log). */
export const metricsResponse = HttpMiddleware.withLoggerDisabled(Effect.map(
  Prometheus.scrape,
  (text) => HttpServerResponse.text(text, { contentType: Prometheus.contentType })
))
