/**
 * A model that measures itself: the duration and outcome of each call, and
 * the tokens it reported, in Effect's metric registry (served as Prometheus
 * text by the server).
 */
import { Cause, Clock, Context, Effect, Exit, Layer, Metric, MetricBoundaries, MetricLabel, Stream } from "effect"
import { LanguageModel } from "./LanguageModel.js"

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

const labelled = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, labels: Record<string, string>) =>
  Metric.taggedWithLabels(metric, Object.entries(labels).map(([key, value]) => MetricLabel.make(key, value)))

const outcomeOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ? "ok" : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "error"

/** `model`, recording the duration, outcome and token usage of each call. */
export const metered = (model: Context.Tag.Service<LanguageModel>): Context.Tag.Service<LanguageModel> =>
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
                Number(end - start) / 1e9
              ))
          )
        )))
  })

/** The model port of `model`, metered. */
export const layer = <E, R>(model: Layer.Layer<LanguageModel, E, R>): Layer.Layer<LanguageModel, E, R> =>
  Layer.effect(LanguageModel, Effect.map(LanguageModel, metered)).pipe(Layer.provide(model))
