/**
 * `npm run bench`: starts a server in-process over a fresh Postgres database,
 * drives it from a load-generator child process, and prints message latency
 * and throughput, teammate turn overhead and turns per second (against a
 * fake model in a third process), memory recall, and file upload, download
 * and text reading, each next to a baseline measured in the same run.
 *
 *   npm run bench                                # print the tables
 *   npm run bench -- --write docs/benchmarks.md  # also rewrite the doc's figures
 *   npm run bench -- --quick                     # a short smoke run
 *   npm run bench -- --only files                # the files phase alone
 *   npm run bench -- --only recall               # the memory recall phase alone
 *   npm run bench -- --only turns                # the turn overhead phase alone
 *   npm run bench -- --only gateway              # the gateway fairness phase alone
 *
 * `BENCH_GATEWAY_BURST` sets the gateway phase's burst (default 10,000, 500
 * with `--quick`); `0` skips the phase in a full run.
 *
 * With `BENCH_TRACE=1` it also prints phase boundaries on stderr, in the
 * clock a `node --cpu-prof` profile of the server uses.
 */
import { FetchHttpClient, HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { HttpLive } from "@troupe/server/Server"
import { TelemetryLive } from "@troupe/server/Telemetry"
import * as Database from "@troupe/store/Database"
import {
  ConfigProvider,
  Console,
  Effect,
  FiberRef,
  HashSet,
  Layer,
  Logger,
  LogLevel,
  Metric,
  MetricState,
  Schedule
} from "effect"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs"
import { createServer } from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { performance } from "node:perf_hooks"
import { parseArgs } from "node:util"
import { BenchError, type Child, forkChild } from "./Child.js"
import * as FakeTelegram from "./FakeTelegram.js"
import { filesPhase } from "./Files.js"
import { filesSummary } from "./FilesReport.js"
import { orgOwner, signup } from "./Fixtures.js"
import { gatewayPhase, type GatewaySettings, gatewaySummary } from "./Gateway.js"
import type { Command, ModelCommand, ModelResults, Results } from "./Protocol.js"
import { memoryRecall } from "./Recall.js"
import {
  type BenchResults,
  describeMachine,
  type FanoutRun,
  type Machine,
  recallTable,
  summary,
  turnOverheadTable,
  withFigures
} from "./Report.js"
import { memoryAfterGc, quiesce, withServerCpu } from "./ServerCpu.js"
import { turnOverhead, turnThroughput } from "./Turns.js"

const { values: args } = parseArgs({
  options: { write: { type: "string" }, quick: { type: "boolean", default: false }, only: { type: "string" } }
})

/**
 * The phases `--only` selects: `files` runs the files phase alone (and can write its figures),
 * `recall` the memory recall phase alone and `turns` the turn overhead phase alone (both printed
 * only), `gateway` the gateway fairness phase alone (and can write its figures); without it
 * everything runs, the gateway phase last (unless `BENCH_GATEWAY_BURST=0`).
 */
const PHASES = ["files", "recall", "turns", "gateway"] as const

/** How much work each phase does; every loop is also bounded in time. */
const settings = args.quick
  ? {
    warmup: 5,
    basePosts: 30,
    fanout: [{ people: 1, streamsPerPerson: 1, posts: 20, warmup: 5 }, {
      people: 100,
      streamsPerPerson: 1,
      posts: 20,
      warmup: 5
    }, {
      people: 100,
      streamsPerPerson: 10,
      posts: 10,
      warmup: 2
    }],
    idle: { streams: 1_000, posts: 20, warmup: 5 },
    seconds: 2,
    turns: { count: 20, warmup: 3 },
    team: { teammates: 100, rooms: 10, lanes: 10, budgetMs: 30_000 },
    recall: { sizes: [1_000, 10_000], queries: 40, repeats: 2 },
    files: {
      transfers: [{ mib: 1, files: 16, concurrency: 1 }, { mib: 1, files: 16, concurrency: 4 }, {
        mib: 10,
        files: 4,
        concurrency: 1
      }],
      texts: { pages: [5, 20], repeats: 1 }
    }
  }
  : {
    warmup: 20,
    basePosts: 200,
    fanout: [{ people: 1, streamsPerPerson: 1, posts: 200, warmup: 20 }, {
      people: 100,
      streamsPerPerson: 1,
      posts: 200,
      warmup: 20
    }, {
      people: 100,
      streamsPerPerson: 10,
      posts: 50,
      warmup: 5
    }],
    idle: { streams: 10_000, posts: 100, warmup: 10 },
    seconds: 8,
    turns: { count: 100, warmup: 10 },
    team: { teammates: 1_000, rooms: 100, lanes: 20, budgetMs: 100_000 },
    recall: { sizes: [1_000, 10_000, 100_000], queries: 40, repeats: 5 },
    files: {
      transfers: [
        { mib: 1, files: 64, concurrency: 1 },
        { mib: 1, files: 64, concurrency: 4 },
        { mib: 10, files: 16, concurrency: 1 },
        { mib: 10, files: 16, concurrency: 4 }
      ],
      texts: { pages: [10, 200], repeats: 3 }
    }
  }

/** The gateway phase's burst: `BENCH_GATEWAY_BURST`, or 10,000 (500 with `--quick`). */
const gatewayBurst = (() => {
  const given = process.env["BENCH_GATEWAY_BURST"]
  const n = given === undefined || given === "" ? (args.quick ? 500 : 10_000) : Number(given)
  return Number.isInteger(n) && n >= 0 ? n : Number.NaN
})()

/** The gateway fairness phase's shape (see `Gateway.ts`). */
const gatewaySettings: GatewaySettings = {
  burst: gatewayBurst,
  concurrency: 100,
  perSecond: 2,
  baselineMs: args.quick ? 5_000 : 60_000
}

/** How long the fake model waits before its first byte, in every teammate phase. */
const MODEL_DELAY_MS = 50

/** The pool `Database.layerTest` gives the server; the posters and inserters match it. */
const POOL_SIZE = 10
const CONCURRENCY = POOL_SIZE
const PEOPLE = 100

/**
 * The server's log lines in the benchmark: JSON (as a node writes them with
 * `LOG_FORMAT=json`) to /dev/null, from `logSink.level` up. The server runs
 * at `LOG_LEVEL=info`; the sink holds warnings only, except in the phase that
 * measures what the per-request access line (info) costs.
 */
const logSink = { level: LogLevel.Warning }
const SinkLogs = Layer.unwrapEffect(Effect.sync(() => {
  const devNull = openSync("/dev/null", "w")
  const logger = Logger.jsonLogger.pipe(
    Logger.map((line) => writeSync(devNull, `${line}\n`)),
    Logger.filterLogLevel((level) => LogLevel.greaterThanEqual(level, logSink.level))
  )
  return Layer.scopedDiscard(Effect.locallyScopedWith(FiberRef.currentLoggers, () => HashSet.make(logger)))
}))

/**
 * The test server's shape, with limits out of the way and the production feed
 * defaults, its teammates talking to the fake model at `modelBaseURL`, its
 * files stored in `filesDir`.
 */
const ServerLive = (modelBaseURL: string, filesDir: string, telegramUrl: string) =>
  HttpLive.pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(Database.layerTest),
    // Logs and tracing as a node sets them up (no trace export: no spans), lines into the sink.
    Layer.provide(SinkLogs),
    Layer.provide(TelemetryLive),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromJson({
      LOG_LEVEL: "info",
      // Teammates leave memory soon after their turn, so a phase can see the memory they leave behind.
      TEAMMATE_MAX_IDLE: "5 seconds",
      RATE_USER_WRITES_PER_MIN: "10000000",
      RATE_ORG_WRITES_PER_MIN: "10000000",
      RATE_LOGIN_PER_15MIN: "1000000",
      RATE_LOGIN_PER_ADDRESS_PER_15MIN: "1000000",
      RATE_SIGNUP_PER_ADDRESS_PER_HOUR: "1000000",
      OPENAI_BASE_URL: modelBaseURL,
      OPENAI_API_KEY: "bench",
      DEFAULT_MODEL: "gpt-4o-mini",
      FILE_STORAGE_DIR: filesDir,
      // The gateway phase's channel accounts, and their bots' API.
      CHANNEL_KEY: randomBytes(32).toString("base64"),
      TELEGRAM_API_URL: telegramUrl,
      ...Object.fromEntries(
        ["DATABASE_URL", "TROUPE_TEST_EMBEDDED"].flatMap((key) => {
          const value = process.env[key]
          return value === undefined ? [] : [[key, value]]
        })
      )
    })))
  )

/** With `BENCH_TRACE=1`, phase boundaries in the monotonic microseconds a `--cpu-prof` profile uses. */
const mark = (label: string) =>
  process.env["BENCH_TRACE"] === "1"
    ? Console.error(`trace ${label} ${process.hrtime.bigint() / 1000n}`)
    : Effect.void

/** Waits until the load generator's streams have gone quiet and the server is idle. */
const settled = (load: Child<Command, Results>) =>
  Effect.zipRight(load.call({ type: "settle", quietMs: 300, timeoutMs: 60_000 }), quiesce(30_000))

const serverUrl = Effect.map(HttpServer.HttpServer, (server) => {
  const address = server.address
  return address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : "http://unix"
})

/**
 * An org with an owner; a public room with `PEOPLE` members (the fan-out
 * room); a quiet room for the POST baseline; and `CONCURRENCY` posters with a
 * private room each.
 */
const fixtures = (url: string) =>
  Effect.gen(function*() {
    const owner = yield* signup(url, "Owner")
    const org = yield* owner.api.orgs.create({
      payload: { name: "Bench", slug: `bench-${randomBytes(4).toString("hex")}` }
    })
    const people = yield* Effect.forEach(Array.from({ length: PEOPLE }, (_, i) => `Person${i}`), (name) =>
      signup(url, name), {
      concurrency: 4
    })
    const posters = yield* Effect.forEach(
      Array.from({ length: CONCURRENCY }, (_, i) =>
        `Poster${i}`),
      (name) =>
        signup(url, name),
      {
        concurrency: 4
      }
    )
    yield* Effect.forEach(
      [...people, ...posters],
      (p) => owner.api.orgs.addMember({ path: { org: org.id }, payload: { email: p.email } }),
      { concurrency: 8, discard: true }
    )
    const fanoutRoom = yield* owner.api.rooms.create({ path: { org: org.id }, payload: { name: "fan-out" } })
    yield* Effect.forEach(
      people,
      (p) => owner.api.rooms.addMember({ path: { room: fanoutRoom.id }, payload: { userId: p.id } }),
      { concurrency: 8, discard: true }
    )
    const quietRoom = yield* owner.api.rooms.create({
      path: { org: org.id },
      payload: { name: "quiet", kind: "private" }
    })
    const posterRooms = yield* Effect.forEach(
      posters,
      (p, i) =>
        Effect.map(
          p.api.rooms.create({ path: { org: org.id }, payload: { name: `throughput-${i}`, kind: "private" } }),
          (room) => ({ token: p.token, roomId: room.id })
        ),
      { concurrency: 8 }
    )
    return { owner, people, fanoutRoom, quietRoom, posterRooms }
  })

/** Single-row autocommit INSERTs, `concurrency` at a time, through the server's pool. */
const rawInserts = (sql: PgClient.PgClient, concurrency: number, seconds: number) =>
  Effect.gen(function*() {
    yield* sql`CREATE TABLE bench_raw_insert (
      id bigserial PRIMARY KEY, worker int NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`
    const insert = (worker: number, n: number) =>
      sql`INSERT INTO bench_raw_insert (worker, body) VALUES (${worker}, ${`throughput ${worker}.${n}`})`
    const workers = Array.from({ length: concurrency }, (_, i) => i)
    const run = (until: number, max: number) =>
      Effect.forEach(workers, (worker) =>
        Effect.gen(function*() {
          let n = 0
          while (n < max && performance.now() < until) {
            yield* insert(worker, n)
            n++
          }
          return n
        }), { concurrency: "unbounded" })
    yield* run(performance.now() + 1000, 50)
    const start = performance.now()
    const counts = yield* run(start + seconds * 1000, 200_000)
    const elapsedMs = performance.now() - start
    yield* sql`DROP TABLE bench_raw_insert`
    return { count: counts.reduce((a, b) => a + b, 0), elapsedMs }
  })

/** Teammate entities alive on this node, from the cluster's own gauge. */
const liveEntities = Effect.map(
  Metric.snapshot,
  (pairs) =>
    pairs.reduce(
      (n, pair) =>
        pair.metricKey.name === "effect_cluster_entities" && MetricState.isGaugeState(pair.metricState)
          ? n + Number(pair.metricState.value)
          : n,
      0
    )
)

/** Waits until every teammate entity was passivated (`TEAMMATE_MAX_IDLE` after its last turn). */
const waitForPassivation = liveEntities.pipe(
  Effect.repeat({ until: (n) => n === 0, schedule: Schedule.spaced("250 millis") }),
  Effect.timeoutFail({
    duration: "2 minutes",
    onTimeout: () => new BenchError({ message: "teammate entities were not passivated within 2 minutes" })
  })
)

/** Messages, teammates and recall: the figures between the doc's single-node markers. */
const singleNode = (
  model: Child<ModelCommand, ModelResults>,
  modelBaseURL: string,
  server: { readonly url: string; readonly load: Child<Command, Results>; readonly machine: Machine }
) =>
  Effect.gen(function*() {
    const began = performance.now()
    const { load, machine, url } = server
    const sql = yield* PgClient.PgClient

    yield* Console.log(`signing up ${PEOPLE + CONCURRENCY + 1} people…`)
    const f = yield* fixtures(url)

    const probe = (token: string, roomId: string, posts: number, warmup: number) =>
      withServerCpu(load.call({
        type: "latency",
        baseUrl: url,
        token,
        roomId,
        warmup,
        posts,
        deliveryTimeoutMs: 10_000,
        budgetMs: 45_000
      }))
    const settle = settled(load)

    yield* Console.log(`POST baseline: ${settings.basePosts} posts, no stream open…`)
    yield* mark("baseline")
    const [baseline, baselineCpu] = yield* probe(f.owner.token, f.quietRoom.id, settings.basePosts, settings.warmup * 2)
    const postBaseline = { result: baseline, serverCpuMs: baselineCpu }
    yield* quiesce(30_000)

    // One statement through the server's own SQL client, one at a time: the unit a request is made of.
    const statements = settings.basePosts * 10
    const [, statementCpu] = yield* withServerCpu(Effect.gen(function*() {
      for (let i = 0; i < statements; i++) yield* sql`SELECT ${i}::int AS n`
    }))
    yield* quiesce(30_000)

    const floorWarmup = settings.warmup * 2
    /** `GET /v1/auth/me` one after the other, with the server's CPU time. */
    const floorRun = withServerCpu(load.call({
      type: "requests",
      baseUrl: url,
      token: f.owner.token,
      path: "/v1/auth/me",
      warmup: floorWarmup,
      count: settings.basePosts
    }))
    yield* Console.log(`request floor: ${settings.basePosts} GET /v1/auth/me…`)
    const [floorResult, floorCpu] = yield* floorRun
    yield* quiesce(30_000)
    yield* Console.log(`request floor with its access line: ${settings.basePosts} GET /v1/auth/me…`)
    logSink.level = LogLevel.Info
    const [loggedResult, loggedCpu] = yield* floorRun.pipe(Effect.ensuring(Effect.sync(() => {
      logSink.level = LogLevel.Warning
    })))
    const floor = {
      result: floorResult,
      serverCpuMs: floorCpu,
      warmup: floorWarmup,
      logged: { result: loggedResult, serverCpuMs: loggedCpu }
    }

    const fanout: Array<FanoutRun> = []
    for (const { people, posts, streamsPerPerson, warmup } of settings.fanout) {
      const subscribers = people * streamsPerPerson
      yield* Console.log(`fan-out to ${subscribers} subscribers: ${posts} posts…`)
      // Everyone's first stream before anyone's second: only a person's first
      // stream announces them online to every open stream, so this keeps the
      // presence burst to people × people deliveries instead of people × streams.
      const tokens = Array.from({ length: streamsPerPerson }, () => f.people.slice(0, people).map((p) => p.token))
        .flat()
      yield* load.call({ type: "open", baseUrl: url, tokens, concurrency: 50, timeoutMs: 60_000 })
      yield* settle
      yield* mark(`fanout-${subscribers}`)
      const [result, serverCpuMs] = yield* probe(f.owner.token, f.fanoutRoom.id, posts, warmup)
      yield* mark(`fanout-${subscribers}-end`)
      yield* load.call({ type: "close" })
      yield* quiesce(30_000)
      fanout.push({ subscribers, people, streamsPerPerson, warmup, result, serverCpuMs })
    }

    // Idle streams: the posters' (who are not in the quiet room) hold them
    // open while the owner posts into the quiet room, to their own one stream.
    yield* Console.log(
      `idle streams: ${settings.idle.streams} open, then ${settings.idle.posts} posts to one other stream…`
    )
    const memoryBefore = yield* memoryAfterGc
    yield* load.call({ type: "open", baseUrl: url, tokens: [f.owner.token], concurrency: 1, timeoutMs: 30_000 })
    yield* load.call({
      type: "open",
      baseUrl: url,
      tokens: Array.from({ length: settings.idle.streams }, (_, i) => f.posterRooms[i % CONCURRENCY]?.token ?? ""),
      concurrency: 50,
      timeoutMs: 300_000
    })
    yield* settle
    const memoryOpen = yield* memoryAfterGc
    yield* mark("idle")
    const [idleResult, idleCpu] = yield* withServerCpu(load.call({
      type: "latency",
      baseUrl: url,
      token: f.owner.token,
      roomId: f.quietRoom.id,
      warmup: settings.idle.warmup,
      posts: settings.idle.posts,
      deliveryTimeoutMs: 10_000,
      budgetMs: 60_000,
      receivers: 1
    }))
    yield* load.call({ type: "close" })
    yield* quiesce(30_000)
    const idle = {
      streams: settings.idle.streams,
      before: memoryBefore,
      open: memoryOpen,
      warmup: settings.idle.warmup,
      result: idleResult,
      serverCpuMs: idleCpu
    }

    yield* Console.log(`raw INSERT baseline: ${CONCURRENCY} at a time for ${settings.seconds} s…`)
    yield* mark("insert")
    const rawInsert = yield* rawInserts(sql, CONCURRENCY, settings.seconds)

    yield* Console.log(`throughput: ${CONCURRENCY} posters for ${settings.seconds} s…`)
    yield* load.call({
      type: "open",
      baseUrl: url,
      tokens: f.posterRooms.map((p) => p.token),
      concurrency: 10,
      timeoutMs: 30_000
    })
    yield* settle
    yield* mark("throughput")
    const [throughputResult, throughputCpu] = yield* withServerCpu(load.call({
      type: "throughput",
      baseUrl: url,
      posters: f.posterRooms,
      durationMs: settings.seconds * 1000,
      maxPerPoster: 20_000,
      drainTimeoutMs: 15_000
    }))
    yield* mark("throughput-end")
    const throughput = { result: throughputResult, serverCpuMs: throughputCpu }
    yield* load.call({ type: "close" })
    yield* quiesce(30_000)

    const team = yield* orgOwner(url, "Teammates")
    const ctx = { url, load, model, modelBaseURL, owner: team.owner, orgId: team.org.id, settle }
    yield* Console.log(
      `turn overhead: ${settings.turns.count} turns one after the other, model answering after ${MODEL_DELAY_MS} ms…`
    )
    yield* mark("turn-overhead")
    const overhead = yield* turnOverhead(ctx, {
      turns: settings.turns.count,
      warmup: settings.turns.warmup,
      delayMs: MODEL_DELAY_MS
    })
    yield* quiesce(30_000)

    yield* Console.log(
      `turns per second: hiring ${settings.team.teammates} teammates into ${settings.team.rooms} rooms, then one turn each, ` +
        `${settings.team.lanes} in flight…`
    )
    yield* waitForPassivation
    yield* quiesce(30_000)
    const beforeHiring = yield* memoryAfterGc
    yield* mark("turn-throughput")
    const manyTurns = yield* turnThroughput(ctx, { ...settings.team, delayMs: MODEL_DELAY_MS })
    yield* mark("turn-throughput-end")
    yield* waitForPassivation
    yield* quiesce(30_000)
    const idleTeammates = { hired: settings.team.teammates, before: beforeHiring, after: yield* memoryAfterGc }

    const archivist = yield* team.owner.api.teammates.hire({
      path: { org: team.org.id },
      payload: { handle: "archivist", name: "Archivist", role: "Keeps notes" }
    })
    yield* mark("recall")
    const recall = yield* memoryRecall(team.org.id, archivist.id, settings.recall)

    const results: BenchResults = {
      date: new Date(),
      machine,
      poolSize: POOL_SIZE,
      concurrency: CONCURRENCY,
      baselineWarmup: settings.warmup * 2,
      postBaseline,
      floor,
      statement: { count: statements, serverCpuMs: statementCpu },
      fanout,
      idle,
      rawInsert,
      throughput,
      turnOverhead: overhead,
      turnThroughput: manyTurns,
      idleTeammates,
      recall,
      seconds: (performance.now() - began) / 1000
    }
    return results
  })

/** With `--write`, puts `figures` between the `name` markers of the page at that path. */
const writeFigures = (name: string, figures: string) =>
  Effect.gen(function*() {
    const path = args.write
    if (path === undefined) return
    const page = withFigures(existsSync(path) ? readFileSync(path, "utf8") : "", name, figures)
    if (page === undefined) {
      return yield* new BenchError({ message: `${path} has no <!-- figures:${name} --> markers to write between` })
    }
    yield* Effect.sync(() => writeFileSync(path, page))
    yield* Console.log(`wrote the ${name} figures of ${path}`)
  })

const program = (
  model: Child<ModelCommand, ModelResults>,
  modelBaseURL: string,
  filesDir: string,
  telegram: FakeTelegram.FakeTelegram
) =>
  Effect.gen(function*() {
    const url = yield* serverUrl
    const sql = yield* PgClient.PgClient
    const load = yield* forkChild<Command, Results>("./Load.ts")
    const [pg] = yield* sql<{ version: string; sync: string }>`
    SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS sync`
    const machine = describeMachine(`${pg?.version ?? "?"} (synchronous_commit ${pg?.sync ?? "?"})`)
    yield* Console.log(`server at ${url}`)

    if (args.only === undefined) {
      const results = yield* singleNode(model, modelBaseURL, { url, load, machine })
      yield* Console.log(`\n${summary(results)}\n`)
      yield* writeFigures("single-node", summary(results))
      yield* quiesce(30_000)
    }

    if (args.only === "turns") {
      const team = yield* orgOwner(url, "Teammates")
      const ctx = { url, load, model, modelBaseURL, owner: team.owner, orgId: team.org.id, settle: settled(load) }
      const overhead = yield* turnOverhead(ctx, {
        turns: settings.turns.count,
        warmup: settings.turns.warmup,
        delayMs: MODEL_DELAY_MS
      })
      yield* Console.log(`\n${turnOverheadTable({ turnOverhead: overhead })}\n`)
      yield* Console.log(
        `server CPU per turn: ${(overhead.serverCpuMs / Math.max(1, overhead.turns.turns)).toFixed(1)} ms`
      )
      return
    }

    if (args.only === "recall") {
      const { org, owner } = yield* orgOwner(url, "Recall")
      const archivist = yield* owner.api.teammates.hire({
        path: { org: org.id },
        payload: { handle: "archivist", name: "Archivist", role: "Keeps notes" }
      })
      const recall = yield* memoryRecall(org.id, archivist.id, settings.recall)
      yield* Console.log(`\n${recallTable({ recall })}\n`)
      return
    }

    if (args.only === undefined || args.only === "files") {
      const files = yield* filesPhase({ url, load, dir: filesDir }, settings.files)
      yield* Console.log(`\n${filesSummary(machine, files)}\n`)
      yield* writeFigures("files", filesSummary(machine, files))
    }

    if (args.only === "gateway" || (args.only === undefined && gatewaySettings.burst > 0)) {
      yield* quiesce(30_000)
      yield* Console.log(
        `gateway fairness: B at ${gatewaySettings.perSecond}/s alone, then during A's burst of ` +
          `${gatewaySettings.burst} updates, ${gatewaySettings.concurrency} at a time…`
      )
      yield* mark("gateway")
      const gateway = yield* gatewayPhase({ url, load, telegram }, gatewaySettings)
      yield* mark("gateway-end")
      yield* Console.log(`\n${gatewaySummary(machine, gateway)}\n`)
      yield* writeFigures("gateway", gatewaySummary(machine, gateway))
    }
  })

/** The fake model first (the server's configuration points at it), then the server, then the run. */
const main = Effect.gen(function*() {
  if (args.only !== undefined && !PHASES.some((phase) => phase === args.only)) {
    return yield* new BenchError({ message: `--only takes one of: ${PHASES.join(", ")}` })
  }
  if (Number.isNaN(gatewaySettings.burst)) {
    return yield* new BenchError({ message: "BENCH_GATEWAY_BURST must be a whole number (0 skips the phase)" })
  }
  const filesDir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(Path.join(Os.tmpdir(), "troupe-bench-files-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const model = yield* forkChild<ModelCommand, ModelResults>("./Model.ts")
  const { baseURL } = yield* model.call({ type: "start" })
  const telegram = yield* FakeTelegram.make
  yield* program(model, baseURL, filesDir, telegram).pipe(Effect.provide(ServerLive(baseURL, filesDir, telegram.url)))
})

main.pipe(
  Effect.onInterrupt(() => Console.error("benchmark interrupted (by a signal?); no results")),
  Effect.timeoutFail({
    duration: "30 minutes",
    onTimeout: () => new BenchError({ message: "the benchmark ran over 30 minutes" })
  }),
  Effect.scoped,
  Effect.provide(FetchHttpClient.layer),
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
