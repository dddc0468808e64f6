/**
 * Renders Effect's metric registry in the Prometheus text exposition format
 * (version 0.0.4): counters (as gauges when they are not `incremental`, since
 * Effect lets those go down), gauges, histograms (cumulative buckets with
 * `+Inf`), summaries, and frequencies (one series per observed value).
 */
import { Effect, Metric, MetricKeyType, MetricState, Option } from "effect"
import type * as MetricPair from "effect/MetricPair"

/** The content type of the text format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

type Labels = ReadonlyArray<readonly [string, string]>

const name = (raw: string) => raw.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/^([0-9])/, "_$1")

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const labels = (pairs: Labels) =>
  pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${name(k)}="${escapeLabel(v)}"`).join(",")}}`

const number = (n: number | bigint) =>
  typeof n === "bigint"
    ? n.toString()
    : Number.isNaN(n)
    ? "NaN"
    : n === Number.POSITIVE_INFINITY
    ? "+Inf"
    : n === Number.NEGATIVE_INFINITY
    ? "-Inf"
    : String(n)

interface Family {
  type: "counter" | "gauge" | "histogram" | "summary"
  help: string | undefined
  readonly lines: Array<string>
}

/** Renders metric pairs (as from `Metric.snapshot`) as Prometheus text, families sorted by name. */
export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  const family = (metric: string, type: Family["type"], help: Option.Option<string>) => {
    const existing = families.get(metric)
    if (existing !== undefined) return existing.lines
    const created: Family = { type, help: Option.getOrUndefined(help), lines: [] }
    families.set(metric, created)
    return created.lines
  }
  for (const pair of pairs) {
    const key = pair.metricKey
    const metric = name(key.name)
    const tags: Labels = key.tags.map((t) => [t.key, t.value] as const)
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      const monotonic = MetricKeyType.isCounterKey(key.keyType) && key.keyType.incremental
      family(metric, monotonic ? "counter" : "gauge", key.description).push(
        `${metric}${labels(tags)} ${number(state.count)}`
      )
    } else if (MetricState.isGaugeState(state)) {
      family(metric, "gauge", key.description).push(`${metric}${labels(tags)} ${number(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const lines = family(metric, "histogram", key.description)
      for (const [bound, count] of state.buckets) {
        lines.push(`${metric}_bucket${labels([...tags, ["le", number(bound)]])} ${count}`)
      }
      if (!state.buckets.some(([bound]) => bound === Number.POSITIVE_INFINITY)) {
        lines.push(`${metric}_bucket${labels([...tags, ["le", "+Inf"]])} ${state.count}`)
      }
      lines.push(`${metric}_sum${labels(tags)} ${number(state.sum)}`)
      lines.push(`${metric}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isSummaryState(state)) {
      const lines = family(metric, "summary", key.description)
      for (const [quantile, value] of state.quantiles) {
        lines.push(
          `${metric}${labels([...tags, ["quantile", String(quantile)]])} ${
            Option.match(value, { onNone: () => "NaN", onSome: number })
          }`
        )
      }
      lines.push(`${metric}_sum${labels(tags)} ${number(state.sum)}`)
      lines.push(`${metric}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      const lines = family(metric, "counter", key.description)
      for (const [value, count] of state.occurrences) {
        lines.push(`${metric}${labels([...tags, ["value", value]])} ${count}`)
      }
    }
  }
  const out: Array<string> = []
  for (const [metric, f] of [...families].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (f.help !== undefined) out.push(`# HELP ${metric} ${escapeHelp(f.help)}`)
    out.push(`# TYPE ${metric} ${f.type}`)
    out.push(...f.lines)
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}

/** The current registry as Prometheus text. */
export const scrape: Effect.Effect<string> = Effect.map(Metric.snapshot, render)
