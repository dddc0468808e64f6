/**
 * Traces and logs for operators.
 *
 * - Tracing is off until `OTEL_EXPORTER_OTLP_ENDPOINT` names an OTLP/HTTP
 *   collector; spans then go to `<endpoint>/v1/traces` as service
 *   `OTEL_SERVICE_NAME` (default `troupe-<role>`). The exporter itself also
 *   honours the standard `OTEL_EXPORTER_OTLP_HEADERS` for collector auth.
 *   Off means off: no spans are made, so an unexported trace costs nothing.
 * - `LOG_FORMAT=json` writes one JSON object per log line to stdout, with, in a
 *   request, its `requestId` and, when traces are exported, the current trace
 *   and span ids (`effect.traceId`, `effect.spanId`); the default is the
 *   pretty console logger.
 * - `LOG_LEVEL` is the least severe level written (default `info`, which
 *   includes one access line per request; `warn` leaves those out).
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { HttpApp, HttpMiddleware, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, Effect, FiberRef, HashSet, Layer, Logger, LogLevel, Option } from "effect"
import { randomUUID } from "node:crypto"
import { Role } from "./Cluster.js"

/** Telemetry settings. */
export const TelemetryConfig = Config.all({
  /** OTLP/HTTP collector base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); unset: spans are not exported. */
  endpoint: Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT")),
  /** Service name on exported spans (`OTEL_SERVICE_NAME`, default `troupe-<TROUPE_ROLE>`). */
  serviceName: Config.option(Config.string("OTEL_SERVICE_NAME")),
  role: Role,
  /** Log line format (`LOG_FORMAT`: `pretty`, the default, or `json`). */
  logFormat: Config.literal("pretty", "json")("LOG_FORMAT").pipe(Config.withDefault("pretty" as const)),
  /** The least severe level logged (`LOG_LEVEL`: `all`, `trace`, `debug`, `info` (default), `warn`, `error`, `fatal`, `off`). */
  logLevel: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))
})

/** Where an OTLP/HTTP exporter sends traces, given the collector's base URL (as the OTLP spec defines it). */
export const tracesUrl = (endpoint: string) => `${endpoint.replace(/\/+$/, "")}/v1/traces`

/**
 * Exports every span through `spanProcessor` as service `serviceName`.
 * Provide it below everything that should be traced.
 */
export const layerTracing = (options: { readonly serviceName: string; readonly spanProcessor: SpanProcessor }) =>
  NodeSdk.layer(() => ({ resource: { serviceName: options.serviceName }, spanProcessor: options.spanProcessor }))

/** Tracing from configuration: OTLP over HTTP when configured; otherwise no spans at all. */
export const TracingLive = Layer.unwrapEffect(Effect.gen(function*() {
  const c = yield* TelemetryConfig
  if (Option.isNone(c.endpoint)) return Layer.setTracerEnabled(false)
  const serviceName = Option.getOrElse(c.serviceName, () => `troupe-${c.role}`)
  const url = tracesUrl(c.endpoint.value)
  yield* Effect.logInfo(`exporting traces to ${url} as ${serviceName}`)
  return layerTracing({ serviceName, spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url })) })
}))

/** A log line as a JSON object, with the current trace and span ids among the annotations. */
export const jsonFormat = Logger.withSpanAnnotations(Logger.jsonLogger)

/** {@link jsonFormat}, one line each on stdout. */
export const jsonLogger = Logger.withConsoleLog(jsonFormat)

/** Replaces the console loggers (the default one, and the pretty one `runMain` installs) with {@link jsonLogger}. */
export const layerJsonLogs = Layer.scopedDiscard(Effect.locallyScopedWith(
  FiberRef.currentLoggers,
  (loggers) =>
    HashSet.add(HashSet.remove(HashSet.remove(loggers, Logger.defaultLogger), Logger.prettyLoggerDefault), jsonLogger)
))

/** Log format and level from configuration. */
export const LoggingLive = Layer.unwrapEffect(
  Effect.map(
    TelemetryConfig,
    (c) => Layer.merge(c.logFormat === "json" ? layerJsonLogs : Layer.empty, Logger.minimumLogLevel(c.logLevel))
  )
)

/** Logs, then tracing (so tracing's own start-up line is already in the chosen format). */
export const TelemetryLive = TracingLive.pipe(Layer.provide(LoggingLive))

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Gives every request an id: the caller's `x-request-id` when it is sane,
 * a fresh UUID otherwise. It annotates every log line of the request
 * (`requestId`) and the request's span (`http.request_id`), and comes back in
 * the `x-request-id` response header.
 */
export const requestId = HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const given = request.headers["x-request-id"]
    const id = given !== undefined && requestIdPattern.test(given) ? given : randomUUID()
    yield* Effect.annotateCurrentSpan("http.request_id", id)
    yield* HttpApp.appendPreResponseHandler((_, response) =>
      Effect.succeed(HttpServerResponse.setHeader(response, "x-request-id", id))
    )
    return yield* Effect.annotateLogs(app, "requestId", id)
  })
)
