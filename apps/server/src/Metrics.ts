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
import { LanguageModel } from "@troupe/llm/LanguageModel"
import { Cause, Clock, type Context, Effect, Exit, Layer, Metric, MetricBoundaries, MetricLabel, Option, Stream, Tracer } from "effect"
import * as Prometheus from "./Prometheus.js"

const seconds = (from: bigint, to: bigint) => Number(to - from) / 1e9

const labelled = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, labels: Record<string, string>) =>
  Metric.taggedWithLabels(metric, Object.entries(labels).map(([key, value]) => MetricLabel.make(key, value)))

const outcomeOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ? "ok" : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "error"

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

/** Duration of teammate turns on this node, by `outcome` (`ok`, `error`, `interrupted`). */
export const turnDuration = Metric.histogram(
  "troupe_turn_duration_seconds",
  MetricBoundaries.fromIterable([0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300]),
  "Duration of teammate turns run on this node, by outcome."
)

/** Duration of single model calls (one streamed completion), by `model` and `outcome`. */
export const modelDuration = Metric.histogram(
  "troupe_model_request_duration_seconds",
  MetricBoundaries.fromIterable([0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120]),
  "Duration of single streamed model calls, by model and outcome."
)

/** Tokens the model reported, by `model` and `type` (`input`, `output`). */
export const modelTokens = Metric.counter("troupe_model_tokens_total", {
  description: "Tokens reported by the model, by model and type (input, output).",
  incremental: true
})

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

/** A model that records the duration, outcome and token usage of each call. */
export const meteredModel = (model: Context.Tag.Service<LanguageModel>): Context.Tag.Service<LanguageModel> =>
  LanguageModel.of({
    name: model.name,
    stream: (request) =>
      Stream.unwrap(Effect.map(Clock.currentTimeNanos, (start) =>
        model.stream(request).pipe(
          Stream.tap((chunk) =>
            chunk._tag === "Usage"
              ? Effect.zipRight(
                Metric.incrementBy(labelled(modelTokens, { model: request.model, type: "input" }), chunk.inputTokens),
                Metric.incrementBy(labelled(modelTokens, { model: request.model, type: "output" }), chunk.outputTokens)
              )
              : Effect.void
          ),
          Stream.ensuringWith((exit) =>
            Effect.flatMap(Clock.currentTimeNanos, (end) =>
              Metric.update(
                labelled(modelDuration, { model: request.model, outcome: outcomeOf(exit) }),
                seconds(start, end)
              ))
          )
        )))
  })

/** The model port from `model`, metered. */
export const meteredModelLayer = <E, R>(model: Layer.Layer<LanguageModel, E, R>): Layer.Layer<LanguageModel, E, R> =>
  Layer.effect(LanguageModel, Effect.map(LanguageModel, meteredModel)).pipe(Layer.provide(model))

/**
 * Wraps a tracer so that the end of each `Turn.run` span records the turn's
 * duration: turns run inside the teammate runtime, which the server composes
 * but does not wrap, and the span is where a turn begins and ends.
 */
const observeTurns = (tracer: Tracer.Tracer): Tracer.Tracer =>
  Tracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      const span = tracer.span(name, parent, context, links, startTime, kind, options)
      if (name !== "Turn.run") return span
      const end = span.end.bind(span)
      span.end = (endTime, exit) => {
        end(endTime, exit)
        turnDuration.unsafeUpdate(seconds(startTime, endTime), [MetricLabel.make("outcome", outcomeOf(exit))])
      }
      return span
    },
    context: (f, fiber) => tracer.context(f, fiber)
  })

/**
 * Records the span-derived metrics (turn durations) under whatever tracer is
 * in place: build it after the tracing layer, before the server.
 */
export const SpanMetricsLive: Layer.Layer<never> = Layer.unwrapEffect(
  Effect.map(Effect.tracer, (tracer) => Layer.setTracer(observeTurns(tracer)))
)
