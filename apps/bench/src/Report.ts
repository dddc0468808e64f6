/**
 * The machine description, the result tables, and `docs/benchmarks.md`
 * rendered from one run.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Os from "node:os"
import type { LatencyResult, RequestsResult, ThroughputResult } from "./Protocol.js"
import type { RecallRun } from "./Recall.js"
import type { TurnOverheadRun, TurnThroughputRun } from "./Turns.js"

/** What the figures were measured on. */
export interface Machine {
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  readonly postgres: string
  /** The code measured: a git revision, `BENCH_REVISION` when set. */
  readonly revision: string
}

const revision = () => {
  const given = process.env["BENCH_REVISION"]
  if (given !== undefined && given !== "") return given
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"]
    }).trim()
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"]
    })
      .trim() !== ""
    return dirty ? `${head} with uncommitted changes` : head
  } catch {
    return "unknown"
  }
}

/** CPUs (as `nproc` reports them), CPU model, memory, OS and Node; Postgres is asked by the caller. */
export const describeMachine = (postgres: string): Machine => {
  let cpus = Os.availableParallelism()
  try {
    cpus = Number(execFileSync("nproc", { encoding: "utf8" }).trim()) || cpus
  } catch {
    // not on a system with coreutils: keep Node's count
  }
  let cpuModel = Os.cpus()[0]?.model ?? "unknown"
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"))
    if (line !== undefined) cpuModel = line.slice(line.indexOf(":") + 1).trim()
  } catch {
    // no /proc: keep Node's model name
  }
  return {
    cpus,
    cpuModel,
    memoryGiB: Os.totalmem() / 1024 ** 3,
    os: `${Os.type()} ${Os.release()} ${Os.arch()}`,
    node: process.version,
    postgres,
    revision: revision()
  }
}

/** A measured phase and the CPU time the server process spent during it. */
export interface Run<A> {
  readonly result: A
  readonly serverCpuMs: number
}

/** One fan-out scenario. */
export interface FanoutRun extends Run<LatencyResult> {
  readonly subscribers: number
  readonly people: number
  readonly streamsPerPerson: number
  /** Unmeasured posts before the measured ones. */
  readonly warmup: number
}

/** Everything one run measured. */
/** Resident memory and live heap (with external memory), in bytes, after a full collection. */
export interface Memory {
  readonly rss: number
  readonly heap: number
}

export interface BenchResults {
  readonly date: Date
  readonly machine: Machine
  readonly poolSize: number
  readonly concurrency: number
  /** Unmeasured posts before the baseline's measured ones. */
  readonly baselineWarmup: number
  /** POST round-trips with no stream open: the latency baseline. */
  readonly postBaseline: Run<LatencyResult>
  /** Authenticated one-read GETs (`GET /v1/auth/me`), warm-up included in the CPU: the floor of any request. */
  readonly floor: Run<RequestsResult> & {
    readonly warmup: number
    /** The same requests with the access line written (`LOG_LEVEL=info`, JSON to /dev/null). */
    readonly logged: Run<RequestsResult>
  }
  /** `SELECT $1` through the server's SQL client, one at a time. */
  readonly statement: { readonly count: number; readonly serverCpuMs: number }
  readonly fanout: ReadonlyArray<FanoutRun>
  /** One stream receiving posts while `streams` others, which cannot see the room, stay open. */
  readonly idle: Run<LatencyResult> & {
    readonly streams: number
    /** Server memory after a full collection, before the streams opened and once they were open and settled. */
    readonly before: Memory
    readonly open: Memory
    readonly warmup: number
  }
  /** Single-row INSERTs through the server's pool: the throughput baseline. */
  readonly rawInsert: { readonly count: number; readonly elapsedMs: number }
  readonly throughput: Run<ThroughputResult>
  readonly turnOverhead: TurnOverheadRun
  readonly turnThroughput: TurnThroughputRun
  /** Server memory before the turns-per-second phase hired its teammates, and after each had answered and was passivated. */
  readonly idleTeammates: { readonly hired: number; readonly before: Memory; readonly after: Memory }
  readonly recall: RecallRun
  readonly seconds: number
}

/** Milliseconds, to two decimals below 10. */
export const ms = (x: number) => Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 1) : "–"
/** A ratio, as `1.23×`. */
export const ratio = (x: number) => Number.isFinite(x) ? `${x.toFixed(2)}×` : "–"
/** A whole number with thousands separators. */
export const int = (x: number) => Math.round(x).toLocaleString("en-US")

/** A Markdown table whose columns also line up as plain text. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`
  return [line(header), rule, ...rows.map(line)].join("\n")
}

/** Rates derived from the run. */
export const rates = (r: BenchResults) => {
  const t = r.throughput.result
  const insertsPerSecond = r.rawInsert.count / (r.rawInsert.elapsedMs / 1000)
  const messagesPerSecond = t.delivered / (t.elapsedMs / 1000)
  return { insertsPerSecond, messagesPerSecond, ratio: messagesPerSecond / insertsPerSecond }
}

/** The server's CPU time per post over a latency phase, warm-up posts included. */
const cpuPerPost = (run: Run<LatencyResult>, warmup: number) => ms(run.serverCpuMs / (run.result.posts + warmup))

/** The latency table: the POST baseline, then each fan-out size. */
export const latencyTable = (r: BenchResults) => {
  const base = r.postBaseline.result.post
  const rows = [
    [
      "POST round-trip, no stream open (baseline)",
      "0",
      int(r.postBaseline.result.posts),
      "–",
      ms(base.p50),
      ms(base.p99),
      ms(base.p50),
      cpuPerPost(r.postBaseline, r.baselineWarmup),
      ratio(1),
      ratio(1)
    ],
    ...r.fanout.map((f) => [
      f.streamsPerPerson === 1
        ? `post → SSE delivery, ${f.people} ${f.people === 1 ? "person" : "people"}`
        : `post → SSE delivery, ${f.people} people × ${f.streamsPerPerson} streams`,
      int(f.subscribers),
      int(f.result.posts),
      f.result.missing > 0
        ? `${int(f.result.delivery.count)} (${int(f.result.missing)} late)`
        : int(f.result.delivery.count),
      ms(f.result.delivery.p50),
      ms(f.result.delivery.p99),
      ms(f.result.post.p50),
      cpuPerPost(f, f.warmup),
      ratio(f.result.delivery.p50 / base.p50),
      ratio(f.result.delivery.p99 / base.p99)
    ])
  ]
  return table(
    [
      "latency",
      "subscribers",
      "posts",
      "deliveries",
      "p50 ms",
      "p99 ms",
      "POST p50 ms",
      "server CPU ms/post",
      "p50 ÷ POST p50",
      "p99 ÷ POST p99"
    ],
    rows
  )
}

/** The throughput table: raw INSERT/s, then messages persisted and delivered per second. */
export const throughputTable = (r: BenchResults) => {
  const { insertsPerSecond, messagesPerSecond } = rates(r)
  const t = r.throughput.result
  return table(
    ["throughput", "concurrency", "count", "seconds", "per second", "server CPU ms/msg", "÷ INSERT/s"],
    [
      [
        "single-row INSERT, same pool (baseline)",
        String(r.concurrency),
        int(r.rawInsert.count),
        (r.rawInsert.elapsedMs / 1000).toFixed(1),
        int(insertsPerSecond),
        "–",
        ratio(1)
      ],
      [
        "messages posted, persisted, delivered over SSE",
        String(r.concurrency),
        t.delivered < t.posted ? `${int(t.delivered)} of ${int(t.posted)}` : int(t.delivered),
        (t.elapsedMs / 1000).toFixed(1),
        int(messagesPerSecond),
        ms(r.throughput.serverCpuMs / Math.max(1, t.posted)),
        ratio(messagesPerSecond / insertsPerSecond)
      ]
    ]
  )
}

/** Idle streams: memory per connection, and what they do to a post's delivery to another stream. */
export const idleTable = (r: BenchResults) => {
  const i = r.idle
  const one = r.fanout.find((f) => f.subscribers === 1)
  const kb = (bytes: number) => (bytes / 1024 / i.streams).toFixed(1)
  return table(
    [
      "idle streams",
      "streams",
      "server RSS KB per stream",
      "live heap KB per stream",
      "p50 ms",
      "p99 ms",
      "p99 ÷ 1-stream p99",
      "server CPU ms/post"
    ],
    [[
      "post → SSE to one stream, the others open and idle",
      int(i.streams),
      kb(i.open.rss - i.before.rss),
      kb(i.open.heap - i.before.heap),
      ms(i.result.delivery.p50),
      ms(i.result.delivery.p99),
      one === undefined ? "–" : ratio(i.result.delivery.p99 / one.result.delivery.p99),
      ms(i.serverCpuMs / (i.result.posts + i.warmup))
    ]]
  )
}

/** Server CPU per message and per delivery, derived from the runs above. */
export const costTable = (r: BenchResults) => {
  const t = r.throughput
  const baseCpu = r.postBaseline.serverCpuMs / (r.postBaseline.result.posts + r.baselineWarmup)
  const floorCpu = r.floor.serverCpuMs / (r.floor.result.count + r.floor.warmup)
  const statementCpu = r.statement.serverCpuMs / r.statement.count
  const loggedCpu = r.floor.logged.serverCpuMs / (r.floor.logged.result.count + r.floor.warmup)
  const rows = [
    ["server CPU per post, no stream open (latency baseline run)", ms(baseCpu)],
    [
      "server CPU per request, `GET /v1/auth/me` (one indexed read: the floor of an authenticated request)",
      ms(floorCpu)
    ],
    ["server CPU per post ÷ per `GET /v1/auth/me`", ratio(baseCpu / floorCpu)],
    ["server CPU per SQL statement (`SELECT $1` through the server's client, one at a time)", ms(statementCpu)],
    ["server CPU per post ÷ per SQL statement", ratio(baseCpu / statementCpu)],
    ["server CPU per `GET /v1/auth/me` with its access line (`LOG_LEVEL=info`, JSON)", ms(loggedCpu)],
    ["the access line's cost per request (difference of the two above)", ms(loggedCpu - floorCpu)],
    ["server CPU per message (throughput run)", ms(t.serverCpuMs / Math.max(1, t.result.posted))],
    ["server cores busy during the throughput run", (t.serverCpuMs / t.result.elapsedMs).toFixed(2)]
  ]
  for (const f of r.fanout) {
    if (f.subscribers <= 1) continue
    const cpu = f.serverCpuMs / (f.result.posts + f.warmup)
    rows.push([`server CPU per delivery, ${int(f.subscribers)} streams open`, ms((cpu - baseCpu) / f.subscribers)])
  }
  return table(["cost", "ms"], rows)
}

export const turnOverheadTable = ({ turnOverhead: t }: { readonly turnOverhead: BenchResults["turnOverhead"] }) => {
  const model = t.modelFirstToken
  const delta = t.turns.firstDelta
  const reply = t.turns.reply
  return table(
    [`one teammate, model answering after ${t.delayMs} ms`, "samples", "p50 ms", "p99 ms", "÷ model TTFT p50"],
    [
      [
        "model called directly: time to first token (baseline)",
        int(model.count),
        ms(model.p50),
        ms(model.p99),
        ratio(1)
      ],
      [
        "post → first message.delta on SSE",
        int(delta.count),
        ms(delta.p50),
        ms(delta.p99),
        ratio(delta.p50 / model.p50)
      ],
      [
        "turn overhead: post → first delta − model TTFT p50",
        int(delta.count),
        ms(delta.p50 - model.p50),
        ms(delta.p99 - model.p50),
        ratio((delta.p50 - model.p50) / model.p50)
      ],
      [
        "model called directly: whole stream",
        int(t.modelTotal.count),
        ms(t.modelTotal.p50),
        ms(t.modelTotal.p99),
        ratio(t.modelTotal.p50 / model.p50)
      ],
      [
        "post → teammate's reply message on SSE",
        int(reply.count),
        ms(reply.p50),
        ms(reply.p99),
        ratio(reply.p50 / model.p50)
      ]
    ]
  )
}

/** Turns per second across many teammates, against the latency-bound ideal and the message rate. */
export const turnThroughputTable = (r: BenchResults) => {
  const t = r.turnThroughput
  const { messagesPerSecond } = rates(r)
  const ideal = t.lanes * 1000 / t.delayMs
  const perSecond = t.turns.completed / (t.turns.elapsedMs / 1000)
  const tp = r.throughput.result
  return table(
    [
      "turns per second",
      "teammates",
      "in flight",
      "count",
      "seconds",
      "per second",
      "server CPU ms/each",
      "÷ ideal",
      "÷ messages/s"
    ],
    [
      [
        `ideal: ${t.lanes} in flight ÷ ${t.delayMs} ms model latency`,
        "–",
        String(t.lanes),
        "–",
        "–",
        int(ideal),
        "–",
        ratio(1),
        ratio(ideal / messagesPerSecond)
      ],
      [
        "messages posted and delivered (throughput above; baseline)",
        "–",
        String(r.concurrency),
        int(tp.delivered),
        (tp.elapsedMs / 1000).toFixed(1),
        int(messagesPerSecond),
        ms(r.throughput.serverCpuMs / Math.max(1, tp.posted)),
        ratio(messagesPerSecond / ideal),
        ratio(1)
      ],
      [
        "teammate turns: post → reply on SSE",
        int(t.teammates),
        String(t.lanes),
        t.turns.completed < t.turns.turns
          ? `${int(t.turns.completed)} of ${int(t.turns.turns)}`
          : int(t.turns.completed),
        (t.turns.elapsedMs / 1000).toFixed(1),
        perSecond.toFixed(1),
        ms(t.serverCpuMs / Math.max(1, t.turns.turns)),
        ratio(perSecond / ideal),
        ratio(perSecond / messagesPerSecond)
      ]
    ]
  )
}

/** Memory recall at each size, with the primary-key baseline measured alongside. */
export const recallTable = ({ recall }: { readonly recall: RecallRun }) => {
  const first = recall.sizes[0]
  return table(
    [
      "memory recall (best 5)",
      "memories",
      "samples",
      "matched rows",
      "p50 ms",
      "p95 ms",
      "PK lookup p95 ms",
      "p95 ÷ PK p95",
      "p95 ÷ first p95"
    ],
    recall.sizes.map((s) => [
      "`TeammateRepo.recall`, full-text",
      int(s.memories),
      int(s.recall.count),
      int(s.matchedMean),
      ms(s.recall.p50),
      ms(s.recall.p95),
      ms(s.lookup.p95),
      ratio(s.recall.p95 / s.lookup.p95),
      ratio(s.recall.p95 / (first?.recall.p95 ?? Number.NaN))
    ])
  )
}

/** What the teammate runs did besides their latencies: counts, failures, set-up, server CPU. */
export const teammateFacts = (r: BenchResults) => {
  const o = r.turnOverhead
  const t = r.turnThroughput
  const last = r.recall.sizes[r.recall.sizes.length - 1]
  const failures = (x: { timedOut: number; failedReplies: number; errors: number }) =>
    `${x.timedOut} timed out, ${x.failedReplies} failed, ${x.errors} posts refused`
  return table(["teammate runs", "value"], [
    ["turn overhead: turns measured (after unmeasured warm-up)", `${int(o.turns.completed)} (${o.warmup})`],
    ["turn overhead: server CPU per turn, ms", ms(o.serverCpuMs / Math.max(1, o.turns.turns))],
    ["turn overhead: POST p50, ms", ms(o.turns.post.p50)],
    [
      "turn overhead: direct model calls, request size",
      `${int(o.modelFirstToken.count)}, ${o.requestMessages} messages, ${int(o.requestBytes)} bytes`
    ],
    ["turn overhead: failures", failures(o.turns)],
    [
      "turns/s: hiring set-up, s (API calls/s)",
      `${t.setupSeconds.toFixed(1)} (${int((t.teammates * 2 + t.rooms) / t.setupSeconds)})`
    ],
    ["turns/s: post → first delta p50 / p99, ms", `${ms(t.turns.firstDelta.p50)} / ${ms(t.turns.firstDelta.p99)}`],
    ["turns/s: failures", failures(t.turns)],
    ["recall: queries × repeats per size", `${r.recall.queries} × ${r.recall.repeats}`],
    ["recall: seconds to insert the last step", last === undefined ? "–" : last.insertSeconds.toFixed(1)]
  ])
}

/** The machine as one Markdown list. */
export const machineList = (m: Machine) =>
  [
    `- CPUs (\`nproc\`): ${m.cpus} × ${m.cpuModel}`,
    `- memory: ${m.memoryGiB.toFixed(1)} GiB`,
    `- OS: ${m.os}`,
    `- Node: ${m.node}`,
    `- Postgres: ${m.postgres}`,
    `- code: ${m.revision}`
  ].join("\n")

/** The figures of a run: the machine, then tables only (docs/benchmarks.md explains them). */
export const summary = (r: BenchResults) => {
  const t = r.throughput.result
  const errors = r.fanout.reduce((n, f) => n + f.result.errors, r.postBaseline.result.errors + r.idle.result.errors)
  return [
    machineList(r.machine),
    "",
    latencyTable(r),
    "",
    idleTable(r),
    "",
    throughputTable(r),
    "",
    costTable(r),
    "",
    table(["run", "value"], [
      ["throughput: posters, posts, failed", `${r.concurrency}, ${int(t.posted)}, ${t.errors}`],
      ["throughput: post → delivery p50 / p99 under load, ms", `${ms(t.delivery.p50)} / ${ms(t.delivery.p99)}`],
      ["latency posts that failed", String(errors)],
      ["server Postgres pool, connections", String(r.poolSize)],
      ["run took, s", r.seconds.toFixed(0)]
    ]),
    "",
    turnOverheadTable(r),
    "",
    turnThroughputTable(r),
    "",
    table([
      "idle teammates",
      "hired",
      "server RSS before hiring MB",
      "after MB",
      "RSS after ÷ before",
      "live heap after ÷ before"
    ], [[
      "hired, each answered once, then passivated",
      int(r.idleTeammates.hired),
      (r.idleTeammates.before.rss / 1_048_576).toFixed(1),
      (r.idleTeammates.after.rss / 1_048_576).toFixed(1),
      ratio(r.idleTeammates.after.rss / r.idleTeammates.before.rss),
      ratio(r.idleTeammates.after.heap / r.idleTeammates.before.heap)
    ]]),
    "",
    recallTable(r),
    "",
    teammateFacts(r)
  ].join("\n")
}

/**
 * `page` with the figures between its `<!-- figures:NAME -->` and
 * `<!-- /figures:NAME -->` markers replaced; undefined when the page lacks them.
 */
export const withFigures = (page: string, name: string, figures: string): string | undefined => {
  const open = `<!-- figures:${name} -->`
  const close = `<!-- /figures:${name} -->`
  const start = page.indexOf(open)
  const end = page.indexOf(close)
  if (start < 0 || end < start) return undefined
  return `${page.slice(0, start + open.length)}\n\n${figures.trimEnd()}\n\n${page.slice(end)}`
}
