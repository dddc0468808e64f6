/**
 * The machine description, the result tables, and `docs/benchmarks.md`
 * rendered from one run.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Os from "node:os"
import type { LatencyResult, ThroughputResult } from "./Protocol.js"
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
export interface BenchResults {
  readonly date: Date
  readonly machine: Machine
  readonly poolSize: number
  readonly concurrency: number
  /** Unmeasured posts before the baseline's measured ones. */
  readonly baselineWarmup: number
  /** POST round-trips with no stream open: the latency baseline. */
  readonly postBaseline: Run<LatencyResult>
  readonly fanout: ReadonlyArray<FanoutRun>
  /** Single-row INSERTs through the server's pool: the throughput baseline. */
  readonly rawInsert: { readonly count: number; readonly elapsedMs: number }
  readonly throughput: Run<ThroughputResult>
  readonly turnOverhead: TurnOverheadRun
  readonly turnThroughput: TurnThroughputRun
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
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`
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

/** Figures derived from the tables that explain them, as Markdown bullets. */
export const reading = (r: BenchResults) => {
  const { insertsPerSecond, messagesPerSecond } = rates(r)
  const t = r.throughput
  const cores = t.serverCpuMs / t.result.elapsedMs
  const baseCpu = r.postBaseline.serverCpuMs / (r.postBaseline.result.posts + r.baselineWarmup)
  const widest = r.fanout[r.fanout.length - 1]
  const lines = [
    `- Throughput: the pool that did ${int(insertsPerSecond)} single-row INSERTs/s carried ${int(messagesPerSecond)} ` +
    `messages/s, while the server process kept ${cores.toFixed(2)} cores busy, about ` +
    `${ms(t.serverCpuMs / Math.max(1, t.result.posted))} ms of server CPU per message.`
  ]
  if (widest !== undefined) {
    const cpu = widest.serverCpuMs / (widest.result.posts + widest.warmup)
    lines.push(
      `- Fan-out: with ${int(widest.subscribers)} streams open, a post cost ${ms(cpu)} ms of server CPU against ` +
        `${ms(baseCpu)} ms with none, about ${ms((cpu - baseCpu) / widest.subscribers)} ms per delivery.`
    )
  }
  lines.push(
    "- With one subscriber the frame can arrive before the POST's own response (the server wakes the feed " +
      "when the transaction commits, then answers), so that ratio stays close to 1."
  )
  return lines.join("\n")
}

/** Turn overhead: the model called directly, then a turn's post → first delta, and the difference. */
export const turnOverheadTable = (r: BenchResults) => {
  const t = r.turnOverhead
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
export const recallTable = (r: BenchResults) => {
  const first = r.recall.sizes[0]
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
    r.recall.sizes.map((s) => [
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

/** Notes under the teammate tables. */
export const teammateNotes = (r: BenchResults) => {
  const o = r.turnOverhead
  const t = r.turnThroughput
  const sizes = r.recall.sizes
  const first = sizes[0]
  const last = sizes[sizes.length - 1]
  const lines = [
    `- Turn overhead: ${
      int(o.turns.completed)
    } turns one after the other (after ${o.warmup} unmeasured); the model was then called ` +
    `directly ${int(o.modelFirstToken.count)} times with the last turn's own request (${o.requestMessages} messages, ` +
    `${int(o.requestBytes)} bytes). A turn cost the server ${
      ms(o.serverCpuMs / Math.max(1, o.turns.turns))
    } ms of CPU; ` +
    `POST p50 ${ms(o.turns.post.p50)} ms.` +
    (o.turns.timedOut + o.turns.failedReplies + o.turns.errors > 0
      ? ` ${o.turns.timedOut} timed out, ${o.turns.failedReplies} failed, ${o.turns.errors} posts refused.`
      : ""),
    `- Turns per second: ${int(t.teammates)} teammates hired through the API into ${t.rooms} rooms in ${
      t.setupSeconds.toFixed(1)
    } s ` +
    `(${
      int((t.teammates * 2 + t.rooms) / t.setupSeconds)
    } API calls/s); each answered one mention, ${t.lanes} turns in flight. ` +
    `Under that load post → first delta was p50 ${ms(t.turns.firstDelta.p50)} ms, p99 ${
      ms(t.turns.firstDelta.p99)
    } ms; ` +
    `post → reply p50 ${ms(t.turns.reply.p50)} ms, p99 ${ms(t.turns.reply.p99)} ms` +
    `${
      t.turns.timedOut + t.turns.failedReplies + t.turns.errors > 0
        ? ` (${t.turns.timedOut} timed out, ${t.turns.failedReplies} failed, ${t.turns.errors} posts refused)`
        : ""
    }.`
  ]
  if (first !== undefined && last !== undefined && last !== first) {
    lines.push(
      `- Memory recall: p95 ${ms(last.recall.p95)} ms at ${int(last.memories)} memories against ${
        ms(first.recall.p95)
      } ms at ` +
        `${int(first.memories)}: ${ratio(last.recall.p95 / first.recall.p95)} for ${
          int(last.memories / first.memories)
        }× the memories, ` +
        `while a primary-key lookup stayed at ${ms(last.lookup.p95)} ms (${
          ratio(last.lookup.p95 / first.lookup.p95)
        }). ` +
        `${r.recall.queries} queries × ${r.recall.repeats} per size; inserting the last step took ${
          last.insertSeconds.toFixed(1)
        } s.`
    )
  }
  return lines.join("\n")
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

/**
 * The section of a Markdown page that starts with the line `heading` and
 * runs to the next heading of the same level, or `undefined`.
 */
export const sectionOf = (page: string, heading: string): string | undefined => {
  const lines = page.split("\n")
  const start = lines.findIndex((line) => line.trim() === heading)
  if (start < 0) return undefined
  const level = heading.slice(0, heading.indexOf(" ") + 1)
  const end = lines.findIndex((line, i) => i > start && line.startsWith(level) && !line.startsWith(`${level}#`))
  return `${lines.slice(start, end < 0 ? lines.length : end).join("\n").trimEnd()}\n`
}

/** `page` with its section `heading` replaced by `section` (which starts with that heading), or with it appended. */
export const withSection = (page: string, heading: string, section: string): string => {
  const old = sectionOf(page, heading)
  if (old === undefined) return `${page.trimEnd()}\n\n${section.trimEnd()}\n`
  const at = page.indexOf(old.trimEnd())
  return `${page.slice(0, at)}${section.trimEnd()}${page.slice(at + old.trimEnd().length)}`
}

/** The tables and notes printed at the end of a run. */
export const summary = (r: BenchResults) => {
  const t = r.throughput.result
  const notes = [
    `Throughput run: ${r.concurrency} posters, ${int(t.posted)} posts, ${t.errors} failed; ` +
    `post → delivery under that load p50 ${ms(t.delivery.p50)} ms, p99 ${ms(t.delivery.p99)} ms.`,
    `Server Postgres pool: ${r.poolSize} connections. Run took ${r.seconds.toFixed(0)} s.`
  ]
  const errors = r.fanout.reduce((n, f) => n + f.result.errors, r.postBaseline.result.errors)
  if (errors > 0) notes.push(`${errors} latency posts failed and were skipped.`)
  return [
    machineList(r.machine),
    "",
    latencyTable(r),
    "",
    throughputTable(r),
    "",
    ...notes,
    "",
    reading(r),
    "",
    turnOverheadTable(r),
    "",
    turnThroughputTable(r),
    "",
    recallTable(r),
    "",
    teammateNotes(r)
  ].join("\n")
}

/** `docs/benchmarks.md`, with the figures of this run. */
export const document = (r: BenchResults) =>
  `# Benchmarks

\`npm run bench\` measures how fast a message reaches the people in a room, how many messages per
second one node persists and fans out, what a teammate turn adds to the model's own time to first
token, how many turns per second one node completes across a thousand teammates, and how memory
recall grows with the number of memories. Every figure is printed next to a baseline measured in
the same run on the same machine and database, because absolute milliseconds say more about the
machine than about Troupe: **compare the ratio columns**, not the milliseconds. \`npm run
bench:cluster\` measures the same kind of figures across node processes (see [Cluster](#cluster)).

## How it is measured

- The benchmark starts the server in-process with the same layer graph as the tests
  (\`HttpLive\` over a fresh Postgres database on the server at \`DATABASE_URL\`, dropped
  afterwards; in-process bus and rate-limit store; ${r.poolSize} pooled connections), with write
  rate limits raised out of the way and info logging off. The clients run in a child process
  (\`bench/Load.ts\`) so that they do not share the server's event loop: SSE streams and POSTs
  over \`node:http\` with no per-origin socket cap, on the loopback interface.
- **Latency.** One person posts sequentially into a room whose members have streams open on
  \`GET /v1/events\`. Each post waits until every stream has the \`message.created\` frame for
  it (10 s at most, then counted as late). Latency is the time from just before the POST to the
  frame's arrival, and p50/p99 are over every (post, subscriber) pair. 1 and 100 subscribers are
  1 and 100 people with one stream each; 1,000 subscribers are the same 100 people with ten
  streams each (every stream of a person receives every room event). Opening streams makes the
  server announce people online to every open stream, so each phase starts only once the streams
  have gone quiet and the server is idle. The baseline is the POST round-trip into a room with no
  stream open anywhere.
- **Throughput.** ${r.concurrency} posters post as fast as they can, each into a private room of its own
  with one stream open (the poster's), for a fixed time; the rate counts messages from the first
  POST to the arrival of the last frame. The baseline is single-row \`INSERT\`s (autocommit) into a
  plain table, ${r.concurrency} at a time, through the server's own connection pool.
- **Server CPU** is the CPU time of the server's process (the clients run in another) during a
  phase, divided by the posts made in it (warm-up posts included): it shows where the time goes
  when the ratios grow.
- A post is several statements in one transaction (access checks, the room's sequence, the
  message, its event in the log, whose counter row every writer takes in turn, and the commit)
  plus authentication, the wake-up and the fan-out, so the throughput ratio is the price of all of
  that relative to the cheapest durable write the same database can do.
- **Teammates** answer through the fake OpenAI-compatible model (\`@troupe/llm/testing/FakeOpenAI\`)
  running in a third process, told by a \`[[delay:${r.turnOverhead.delayMs}]]\` directive in each message to wait
  ${r.turnOverhead.delayMs} ms before its first byte (then it streams four chunks at once).
- **Turn overhead.** The owner mentions one teammate in a private room, one message at a time,
  waiting for the reply before the next, with their stream open. The time from just before the
  POST to the first \`message.delta\` on the stream includes everything a turn does before the
  model answers (the post, the trigger, the persisted cluster message, the run's bookkeeping,
  the context: history, memory, recall, pins, members) and after (publishing the delta and
  delivering it). The baseline is the model's own time to first token: the request the last turn
  sent (captured by the fake) sent again as many times, one at a time, from the server's process
  through the official \`openai\` client. The overhead is each turn's time minus that baseline's
  median.
- **Turns per second.** ${
    int(r.turnThroughput.teammates)
  } custom teammates are hired through the API (8 calls at a time)
  into ${r.turnThroughput.rooms} private rooms of ${
    Math.round(r.turnThroughput.teammates / r.turnThroughput.rooms)
  }, and each gets one mention: ${r.turnThroughput.lanes} lanes run at once, each
  posting into one room at a time and waiting for the teammate's reply before the next mention (so
  the message carrying the directive is always the newest one the model sees). The rate counts
  replies from the first post to the last reply. Two baselines: the ideal, ${r.turnThroughput.lanes} turns in flight
  each taking only the model's ${r.turnThroughput.delayMs} ms, which shows how far the machine is from being bound by
  the model; and the messages per second of the throughput phase, the primary one, because on two
  shared cores a turn is bound by CPU, and a turn is two messages plus the work around them.
- **Memory recall.** One teammate's memories grow by bulk \`INSERT … SELECT\` into \`memories\`
  (texts of 6 to 16 words drawn with a skew from a vocabulary of about 200, so common words are in
  many memories), to each size in turn; after each, the index's pending entries are merged and the
  table analysed. Then ${r.recall.queries} queries (single words at every frequency, two- and three-word
  questions) go through \`TeammateRepo.recall(org, teammate, query, 5)\` ${r.recall.repeats} times each, interleaved
  with as many primary-key lookups of random memories in the same org-scoped transaction (the
  baseline).

## Results

Measured ${
    r.date.toISOString().slice(0, 10)
  } on a ${r.machine.cpus}-core machine (server, clients and Postgres all on it):

${machineList(r.machine)}

${latencyTable(r)}

${throughputTable(r)}

Under the throughput load, post → delivery latency was p50 ${ms(r.throughput.result.delivery.p50)} ms and
p99 ${ms(r.throughput.result.delivery.p99)} ms (${
    int(r.throughput.result.posted)
  } posts, ${r.throughput.result.errors} failed).

### Reading the figures

${reading(r)}

### Teammates

${turnOverheadTable(r)}

${turnThroughputTable(r)}

${recallTable(r)}

${teammateNotes(r)}

These figures come from a small ${r.machine.cpus}-core machine that runs the server, the clients and
Postgres at once; on other hardware the milliseconds will differ, and the ratio columns are what
to compare between runs and machines.

## Run it

\`\`\`sh
npm run bench                                # prints the tables
npm run bench -- --write docs/benchmarks.md  # and rewrites this page with the new figures
\`\`\`

It needs Postgres at \`DATABASE_URL\` (default \`postgres://postgres@127.0.0.1:5432/test\`), where it
creates and drops a database of its own, takes under five minutes on the machine above (this run:
${r.seconds.toFixed(0)} s), and opens about a thousand loopback connections. \`--quick\` makes every phase
smaller (100 teammates, recall up to 10,000 memories) for a smoke run.
`
