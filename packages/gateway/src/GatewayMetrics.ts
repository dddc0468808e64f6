/**
 * What the gateway measures, in Effect's metric registry (served as
 * Prometheus text at `/metrics` by the server).
 */
import { Effect, Metric } from "effect"

/**
 * Webhook deliveries, by `platform` and `outcome`: `stored`, `duplicate`,
 * `ignored` (acknowledged, nothing to store), `unauthorized`, `not_found`,
 * `malformed` or `unavailable`.
 */
export const inbound = Metric.counter("troupe_gateway_inbound_total", {
  description: "Webhook deliveries by platform and outcome (stored, duplicate, ignored, or why they were refused).",
  incremental: true
})

/** Send attempts, by `platform` and `outcome`: `sent`, `rate_limited`, `retry` or `failed`. */
export const outbound = Metric.counter("troupe_gateway_outbound_total", {
  description: "Send attempts by platform and outcome (sent, rate_limited, retry, failed).",
  incremental: true
})

/** Counts one event of `metric` with these labels. */
export const count = (
  metric: typeof inbound,
  platform: string,
  outcome: string
): Effect.Effect<void> =>
  Metric.increment(Metric.tagged(Metric.tagged(metric, "platform", platform), "outcome", outcome))
