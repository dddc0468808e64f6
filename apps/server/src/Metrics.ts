/**
 * What a node measures, recorded with Effect's `Metric` API (one registry per
 * process) and served as Prometheus text at `/metrics` on every node.
 *
 * The cluster library records its own gauges in the same registry:
 * `effect_cluster_shards` (shards this runner holds), `effect_cluster_entities`
 * (live entities by type), `effect_cluster_runners`,
 * `effect_cluster_runners_healthy` and `effect_cluster_singletons`.
 */
import { HttpMiddleware, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Metric, MetricBoundaries, MetricLabel, Option, type Tracer } from "effect"
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

const routeOf = (request: HttpServerRequest.HttpServerRequest, span: Option.Option<Tracer.Span>) => {
  const route = Option.flatMap(span, (s) => Option.fromNullable(s.attributes.get("http.route")))
  if (Option.isSome(route) && typeof route.value === "string") return route.value
  const path = request.url.split("?")[0] ?? ""
  return untracedPaths.includes(path) ? path : "unmatched"
}

/**
 * Counts and times every request. The route pattern comes from the router,
 * which sets `http.route` on the request's span: apply this middleware
 * inside the server's tracing (as `HttpServer.serve` does with its middleware).
 */
export const requestMetrics = HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const start = yield* Clock.currentTimeNanos
    const exit = yield* Effect.exit(app)
    const route = routeOf(request, yield* Effect.option(Effect.currentSpan))
    const status = HttpServerError.exitResponse(exit).status
    const elapsed = seconds(start, yield* Clock.currentTimeNanos)
    yield* Metric.increment(labelled(httpRequests, { method: request.method, route, status: String(status) }))
    yield* Metric.update(labelled(httpRequestDuration, { method: request.method, route }), elapsed)
    return yield* exit
  })
)

/** The registry as a Prometheus text response (scrapes are left out of the access log). */
export const metricsResponse = HttpMiddleware.withLoggerDisabled(Effect.map(
  Prometheus.scrape,
  (text) => HttpServerResponse.text(text, { contentType: Prometheus.contentType })
))
