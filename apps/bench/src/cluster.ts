/**
 * `npm run bench:cluster`: real node processes on loopback (an api node and
 * 1, 2, then 3 runners) over one fresh database and Redis, with the fake
 * model in a process of its own answering after 50 ms. Measures, in one run:
 * turns per second and post → first delta by number of runners, one org's
 * delivery latency while another org bursts, and how long a runner's
 * teammates take to answer after it is killed with `kill -9`.
 *
 *   npm run bench:cluster                                # print the tables
 *   npm run bench:cluster -- --write docs/benchmarks.md  # also replace the page's "Cluster" section
 *   npm run bench:cluster -- --quick                     # a short smoke run
 *
 * Needs Postgres at `DATABASE_URL` (default the local test server) and Redis
 * at `REDIS_URL` (default redis://127.0.0.1:6379; keys under a prefix of its own).
 */
import { FetchHttpClient } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import * as Database from "@troupe/store/Database"
import { Console, Context, Duration, Effect, Fiber, Layer, Logger, LogLevel, type Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { performance } from "node:perf_hooks"
import { parseArgs } from "node:util"
import { BenchError, type Child, forkChild } from "./Child.js"
import { type ClusterResults, clusterSummary, type FailoverRun, type ScalePhase } from "./ClusterReport.js"
import { laneJobs, orgOwner, signup, type TeamRoom, teamRooms } from "./Fixtures.js"
import { freePort, type Node, requireRedis, startNode } from "./Nodes.js"
import type { Command, ModelCommand, ModelResults, Results, RoundResult } from "./Protocol.js"
import { describeMachine, withFigures } from "./Report.js"

const { values: args } = parseArgs({
  options: { write: { type: "string" }, quick: { type: "boolean", default: false } }
})

/** How much work each phase does; every loop is also bounded in time. */
const settings = args.quick
  ? {
    rooms: 5,
    perRoom: 10,
    lanes: 5,
    failover: { teammates: 9, queued: 3, killAfterMs: 1000 },
    fairness: { posters: 5, perPoster: 100, mentionEvery: 20, burstSeconds: 10, probePosts: 30 },
    defaults: false
  }
  : {
    rooms: 20,
    perRoom: 10,
    lanes: 20,
    failover: { teammates: 15, queued: 3, killAfterMs: 1000 },
    fairness: { posters: 20, perPoster: 500, mentionEvery: 20, burstSeconds: 180, probePosts: 400 },
    defaults: true
  }

/** The fake model's wait before its first byte. */
const MODEL_DELAY_MS = 50

/** The burst the brief asks for; `--quick` scales it down. */
const BURST_TARGET = 10_000

/** Runner counts measured, in order (runners are added one at a time). */
const RUNNER_COUNTS = [1, 2, 3] as const

/** Runners killed one after the other in each failover series (3 → 2, then 2 → 1). */
const FAILOVER_KILLS = 2

/** Shards per group (the nodes' default `CLUSTER_SHARDS`). */
const SHARDS = 300

/** Cluster settings tuned for fast failover, as in `apps/server/test/Failover.process.test.ts`. */
const TUNED = {
  CLUSTER_LOCK_EXPIRATION: "4 seconds",
  CLUSTER_LOCK_REFRESH: "1 second",
  CLUSTER_ASSIGNMENT_REFRESH: "500 millis",
  CLUSTER_HEALTH_INTERVAL: "2 seconds",
  CLUSTER_MESSAGE_POLL: "500 millis"
}

const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

/** What every node gets: the shared Redis (own prefix), the fake model, limits out of the way, JSON logs as in production. */
const nodeEnv = (modelBaseURL: string, redisPrefix: string) => ({
  REDIS_URL: redisUrl,
  REDIS_PREFIX: redisPrefix,
  OPENAI_BASE_URL: modelBaseURL,
  OPENAI_API_KEY: "bench",
  DEFAULT_MODEL: "gpt-4o-mini",
  RATE_USER_WRITES_PER_MIN: "10000000",
  RATE_ORG_WRITES_PER_MIN: "10000000",
  RATE_LOGIN_PER_15MIN: "1000000",
  RATE_LOGIN_PER_ADDRESS_PER_15MIN: "1000000",
  RATE_SIGNUP_PER_ADDRESS_PER_HOUR: "1000000",
  DATABASE_POOL_SIZE: "10",
  LOG_FORMAT: "json"
})

/** Wall-clock epoch milliseconds, comparable with the load generator's. */
const now = () => performance.timeOrigin + performance.now()

/**
 * The shard an entity id falls in: `@effect/cluster` 0.60's `Sharding.getShardId`
 * (`internal/hash.ts` `hashString`, then modulo the shards, plus one). Its
 * SQL runner storage locks shard `n` of the default group as advisory lock
 * `1000000 + n`, so `pg_locks` says which connection holds a teammate.
 */
const shardOf = (entityId: string) => {
  let h = 5381
  let i = entityId.length
  while (i) h = (h * 33) ^ entityId.charCodeAt(--i)
  h = (h & 0xbfffffff) | ((h >>> 1) & 0x40000000)
  return Math.abs(h % SHARDS) + 1
}

/** The database's shard locks, by holding Postgres backend. */
const shardOwners = (sql: SqlClient.SqlClient) =>
  Effect.map(
    sql<{ pid: number; shards: ReadonlyArray<number> }>`
      SELECT pid, array_agg(objid::text::int - 1000000 ORDER BY objid) AS shards FROM pg_locks
      WHERE locktype = 'advisory' AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND objid::text::bigint BETWEEN 1000001 AND ${1_000_000 + SHARDS}
      GROUP BY pid`,
    (rows) => new Map(rows.map((r) => [r.pid, r.shards]))
  )

/**
 * Waits (60 s at most) until `runners` backends hold every shard between
 * them and the split has not changed for a second; returns the seconds it
 * took and the split (shards per runner, largest first).
 */
const shardsSettled = (sql: SqlClient.SqlClient, runners: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    let last = ""
    while (performance.now() - start < 60_000) {
      const owners = yield* shardOwners(sql)
      const counts = [...owners.values()].map((s) => s.length).sort((a, b) => b - a)
      const key = counts.join(",")
      if (owners.size === runners && counts.reduce((a, b) => a + b, 0) === SHARDS && key === last) {
        return { seconds: (performance.now() - start) / 1000 - 1, split: counts }
      }
      last = key
      yield* Effect.sleep("1 second")
    }
    return yield* new BenchError({ message: `shards not settled on ${runners} runners within 60 s` })
  })

/** CPU seconds a process has used so far (Linux `/proc`), or `undefined`. */
const cpuSeconds = (pid: number | undefined) => {
  if (pid === undefined) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

/**
 * Waits until every node together uses under 10% of a core over half a
 * second (or `timeoutMs` passes): the cluster finished the previous phase's work.
 */
const nodesIdle = (nodes: () => ReadonlyArray<Node>, timeoutMs: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    while (performance.now() - start < timeoutMs) {
      const pids = nodes().filter((n) => n.child.exitCode === null && n.child.signalCode === null).map((n) =>
        n.child.pid
      )
      const before = pids.map(cpuSeconds)
      yield* Effect.sleep("500 millis")
      const used = pids.map(cpuSeconds).reduce((sum: number, after, i) => sum + (after ?? 0) - (before[i] ?? 0), 0)
      if (used < 0.05) return
    }
  })

/** A cluster being built up: its api node, its runners, and a way to add one. */
const makeCluster = (database: Redacted.Redacted<string>, env: Record<string, string>) =>
  Effect.gen(function*() {
    const nodes: Array<Node> = []
    const addRunner = Effect.gen(function*() {
      const port = yield* freePort
      const node = yield* startNode(`runner ${nodes.length}`, database, {
        ...env,
        TROUPE_ROLE: "runner",
        CLUSTER_RUNNER_PORT: String(port)
      })
      nodes.push(node)
      return node
    })
    yield* addRunner
    const api = yield* startNode("api", database, { ...env, TROUPE_ROLE: "api" })
    nodes.unshift(api)
    const sql = Context.get(yield* Layer.build(Database.layerUrl(database, 2)), SqlClient.SqlClient)
    const runners = () => nodes.filter((n) => n !== api)
    return { api, runners, addRunner, nodes: () => nodes, sql } as const
  })

type Cluster = Effect.Effect.Success<ReturnType<typeof makeCluster>>

/** Teammates with a private room each, for failover rounds. */
const failoverTeam = (url: string, teammates: number) =>
  Effect.gen(function*() {
    const { org, owner } = yield* orgOwner(url, "Failover")
    const rooms = yield* teamRooms(owner, org.id, { prefix: "fmate", rooms: teammates, perRoom: 1, concurrency: 8 })
    return { owner, rooms }
  })

/**
 * One failover round: every teammate gets `queued` mentions at once (each
 * turn streams for about half a second); with `kill`, the runner is killed
 * with SIGKILL `killAfterMs` after the posts start.
 */
const failoverRound = (
  cluster: Cluster,
  load: Child<Command, Results>,
  team: { readonly owner: { readonly token: string }; readonly rooms: ReadonlyArray<TeamRoom> },
  label: string,
  options: { readonly queued: number; readonly killAfterMs: number; readonly kill: Node | undefined }
) =>
  Effect.gen(function*() {
    // The first teammate of each room answers.
    const firsts = team.rooms.flatMap((room) => room.mates.slice(0, 1).map((mate) => ({ room, mate })))
    const posts = Array.from({ length: options.queued }, (_, k) =>
      firsts.map(({ mate, room }) => ({
        token: team.owner.token,
        roomId: room.roomId,
        text: `@${mate.handle} ${label} ${k} [[delay:${MODEL_DELAY_MS}]] [[slow:100]]`
      }))).flat()
    const expect = firsts.map(({ mate }) => ({ teammateId: mate.id, replies: options.queued }))
    const fiber = yield* Effect.fork(
      load.call({ type: "round", baseUrl: cluster.api.url, posts, concurrency: 10, expect, timeoutMs: 120_000 })
    )
    if (options.kill === undefined) {
      return { round: yield* Fiber.join(fiber), killAt: undefined, victimShards: undefined }
    }
    yield* Effect.sleep(Duration.millis(options.killAfterMs))
    const before = yield* shardOwners(cluster.sql)
    options.kill.child.kill("SIGKILL")
    const killAt = now()
    // The killed runner's connection closes with it: the backend whose locks vanish was its.
    let victimShards: ReadonlyArray<number> | undefined
    for (let i = 0; i < 200 && victimShards === undefined; i++) {
      const after = yield* shardOwners(cluster.sql)
      for (const [pid, shards] of before) if (!after.has(pid)) victimShards = shards
      if (victimShards === undefined) yield* Effect.sleep("50 millis")
    }
    const round: RoundResult = yield* Fiber.join(fiber)
    return { round, killAt, victimShards }
  })

/** The largest of `xs`, `NaN` when there are none. */
const largest = (xs: ReadonlyArray<number>) => xs.length === 0 ? Number.NaN : Math.max(...xs)

/** Figures from a no-kill round and a kill round over the same teammates. */
const failoverFigures = (
  name: string,
  runnersBefore: number,
  queued: number,
  base: RoundResult,
  killed: {
    readonly round: RoundResult
    readonly killAt: number
    readonly victimShards: ReadonlyArray<number> | undefined
  }
): FailoverRun => {
  const shards = new Set(killed.victimShards ?? [])
  const identified = killed.victimShards !== undefined
  const victims = new Set(
    killed.round.teammates.filter((t) => !identified || shards.has(shardOf(t.teammateId))).map((t) => t.teammateId)
  )
  const offset = killed.killAt - killed.round.startedAt
  const pending = killed.round.teammates.filter((t) =>
    victims.has(t.teammateId) && (t.replies.length < queued || (t.replies[queued - 1] ?? Infinity) > killed.killAt)
  )
  const lastReply = (t: RoundResult["teammates"][number]) =>
    t.replies[Math.min(queued, t.replies.length) - 1] ?? Number.NaN
  const resumed = pending.map((t) => {
    const next = [...t.deltas, ...t.replies].filter((at) => at > killed.killAt).sort((a, b) => a - b)[0]
    return next === undefined ? Number.NaN : next - killed.killAt
  })
  const answered = pending.map((t) => lastReply(t) - killed.killAt)
  const pendingIds = new Set(pending.map((t) => t.teammateId))
  const baseline = base.teammates.filter((t) => pendingIds.has(t.teammateId)).map((t) =>
    lastReply(t) - (base.startedAt + offset)
  )
  const roundEnd = (r: RoundResult) => largest(r.teammates.map(lastReply)) - r.startedAt
  const duplicates = [...base.teammates, ...killed.round.teammates].reduce(
    (n, t) => n + Math.max(0, t.replies.length - queued),
    0
  )
  return {
    settings: name,
    runnersBefore,
    teammates: killed.round.teammates.length,
    queued,
    victims: identified ? victims.size : undefined,
    victimShards: killed.victimShards?.length,
    pendingVictims: pending.length,
    killAfterMs: offset,
    resumedMs: largest(resumed),
    answeredMs: largest(answered),
    baselineMs: largest(baseline),
    roundMs: roundEnd(killed.round),
    baseRoundMs: roundEnd(base),
    complete: base.complete && killed.round.complete,
    duplicates
  }
}

/**
 * Failover on `cluster` (all its runners up): a warm-up round, then twice a
 * round without a kill and an identical one that kills the oldest runner
 * still alive, waiting for the shards to settle on the survivors in between.
 */
const failoverSeries = (name: string, cluster: Cluster, load: Child<Command, Results>, url: string) =>
  Effect.gen(function*() {
    const fo = settings.failover
    const idle = nodesIdle(cluster.nodes, 60_000)
    const team = yield* failoverTeam(url, fo.teammates)
    yield* load.call({ type: "open", baseUrl: url, tokens: [team.owner.token], concurrency: 1, timeoutMs: 30_000 })
    yield* failoverRound(cluster, load, team, "warm-up", { ...fo, queued: 1, kill: undefined })
    const runs: Array<FailoverRun> = []
    for (let k = 0; k < FAILOVER_KILLS; k++) {
      const alive = cluster.runners().filter((n) => n.child.exitCode === null && n.child.signalCode === null)
      if (alive.length < 2) break
      yield* idle
      const base = yield* failoverRound(cluster, load, team, `steady ${k}`, { ...fo, kill: undefined })
      yield* idle
      const killed = yield* failoverRound(cluster, load, team, `failover ${k}`, { ...fo, kill: alive[0] })
      if (killed.killAt !== undefined) {
        runs.push(failoverFigures(name, alive.length, fo.queued, base.round, { ...killed, killAt: killed.killAt }))
      }
      yield* shardsSettled(cluster.sql, alive.length - 1)
    }
    yield* load.call({ type: "close" })
    return runs
  })

const program = Effect.gen(function*() {
  const began = performance.now()
  yield* requireRedis(redisUrl)
  const model = yield* forkChild<ModelCommand, ModelResults>("./Model.ts")
  const { baseURL } = yield* model.call({ type: "start" })
  const load = yield* forkChild<Command, Results>("./Load.ts")
  const quietLoad = yield* forkChild<Command, Results>("./Load.ts")
  const env = { ...nodeEnv(baseURL, `troupe-bench-${randomBytes(4).toString("hex")}:`), ...TUNED }

  yield* Console.log("starting a runner and an api node over a fresh database…")
  const database = yield* Database.makeTestDatabase
  const cluster = yield* makeCluster(database, env)
  const [pg] = yield* cluster.sql<{ version: string; sync: string }>`
    SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS sync`
  const machine = describeMachine(`${pg?.version ?? "?"} (synchronous_commit ${pg?.sync ?? "?"})`)
  let split = (yield* shardsSettled(cluster.sql, 1)).split
  const idle = nodesIdle(cluster.nodes, 60_000)
  const url = cluster.api.url

  const teammates = settings.rooms * settings.perRoom
  yield* Console.log(`hiring ${teammates} teammates into ${settings.rooms} rooms…`)
  const { org, owner } = yield* orgOwner(url, "Load")
  const rooms = yield* teamRooms(owner, org.id, {
    prefix: "mate",
    rooms: settings.rooms,
    perRoom: settings.perRoom,
    concurrency: 8
  })
  yield* load.call({ type: "open", baseUrl: url, tokens: [owner.token], concurrency: 1, timeoutMs: 30_000 })

  const turns = (label: string, lanes: number, rounds: number) =>
    load.call({
      type: "turns",
      baseUrl: url,
      lanes: laneJobs(owner.token, rooms, { lanes, rounds, suffix: `[[delay:${MODEL_DELAY_MS}]]`, label }),
      turnTimeoutMs: 60_000,
      budgetMs: 90_000
    })

  const phases: Array<ScalePhase> = []
  for (const runners of RUNNER_COUNTS) {
    let rebalanceSeconds = 0
    if (runners > 1) {
      yield* Console.log(`adding runner ${runners}; waiting for the shards to move…`)
      const startedAt = performance.now()
      yield* cluster.addRunner
      split = (yield* shardsSettled(cluster.sql, runners)).split
      rebalanceSeconds = (performance.now() - startedAt) / 1000
      // Give the api node time to read the new assignments.
      yield* Effect.sleep("2 seconds")
    }
    yield* Console.log(`${runners} runner(s): warm-up, then ${teammates} turns, ${settings.lanes} in flight…`)
    // One sequential turn first: a client's first contact with a runner should not be many at once.
    yield* load.call({
      type: "turns",
      baseUrl: url,
      lanes: laneJobs(owner.token, rooms.slice(0, 1), {
        lanes: 1,
        rounds: 1,
        suffix: `[[delay:${MODEL_DELAY_MS}]]`,
        label: "hello"
      }).slice(0, 1).map((lane) => lane.slice(0, 3)),
      turnTimeoutMs: 30_000,
      budgetMs: 30_000
    })
    yield* turns(`warm-up ${runners}`, settings.lanes, 1)
    yield* idle
    phases.push({
      runners,
      rebalanceSeconds,
      shardSplit: split,
      turns: yield* turns(`runners ${runners}`, settings.lanes, 1)
    })
    yield* idle
  }
  yield* load.call({ type: "close" })

  yield* Console.log("fairness: the quiet org's baseline…")
  const f = settings.fairness
  const quiet = yield* orgOwner(url, "Quiet")
  const quietRoom = yield* quiet.owner.api.rooms.create({
    path: { org: quiet.org.id },
    payload: { name: "quiet", kind: "private" }
  })
  const burst = yield* orgOwner(url, "Burst")
  const posters = yield* Effect.forEach(Array.from({ length: f.posters }, (_, i) => i), (i) =>
    Effect.gen(function*() {
      const poster = yield* signup(url, `Poster${i}`)
      yield* burst.owner.api.orgs.addMember({ path: { org: burst.org.id }, payload: { email: poster.email } })
      const room = yield* poster.api.rooms.create({
        path: { org: burst.org.id },
        payload: { name: `burst-${i}`, kind: "private" }
      })
      const mate = yield* burst.owner.api.teammates.hire({
        path: { org: burst.org.id },
        payload: { handle: `burstmate${i}`, name: `Burstmate ${i}`, role: "Helper" }
      })
      yield* poster.api.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: mate.id } })
      return { token: poster.token, roomId: room.id, mention: `@${mate.handle} [[delay:${MODEL_DELAY_MS}]]` }
    }), { concurrency: 4 })
  yield* quietLoad.call({ type: "open", baseUrl: url, tokens: [quiet.owner.token], concurrency: 1, timeoutMs: 30_000 })
  yield* load.call({
    type: "open",
    baseUrl: url,
    tokens: posters.map((p) => p.token),
    concurrency: 10,
    timeoutMs: 30_000
  })
  yield* quietLoad.call({ type: "settle", quietMs: 300, timeoutMs: 30_000 })
  yield* idle
  const probe = (budgetMs: number) =>
    quietLoad.call({
      type: "latency",
      baseUrl: url,
      token: quiet.owner.token,
      roomId: quietRoom.id,
      warmup: 10,
      posts: f.probePosts,
      deliveryTimeoutMs: 10_000,
      budgetMs
    })
  const quietBaseline = yield* probe(60_000)
  yield* Console.log(
    `fairness: ${f.posters * f.perPoster} posts from the other org (at most ${f.burstSeconds} s), probing meanwhile…`
  )
  const burstFiber = yield* Effect.fork(load.call({
    type: "throughput",
    baseUrl: url,
    posters,
    mentionEvery: f.mentionEvery,
    durationMs: f.burstSeconds * 1000,
    maxPerPoster: f.perPoster,
    drainTimeoutMs: 30_000
  }))
  yield* Effect.sleep("2 seconds")
  const underBurst = yield* probe((f.burstSeconds - 4) * 1000)
  const burstLoad = yield* Fiber.join(burstFiber)
  yield* load.call({ type: "close" })
  yield* quietLoad.call({ type: "close" })
  yield* idle

  const fo = settings.failover
  yield* Console.log(
    `failover (tuned settings): ${fo.teammates} teammates, ${fo.queued} turns queued each; kill -9 of one runner, then another…`
  )
  const failovers = [...yield* failoverSeries("tuned", cluster, load, url)]

  if (settings.defaults) {
    yield* Console.log(
      `failover (default settings): a fresh database, an api node and ${RUNNER_COUNTS.length} runners…`
    )
    failovers.push(
      ...yield* Effect.scoped(Effect.gen(function*() {
        const db = yield* Database.makeTestDatabase
        const plain = yield* makeCluster(db, nodeEnv(baseURL, `troupe-bench-${randomBytes(4).toString("hex")}:`))
        for (let runners = 2; runners <= RUNNER_COUNTS.length; runners++) {
          yield* plain.addRunner
          yield* shardsSettled(plain.sql, runners)
        }
        yield* Effect.sleep("2 seconds")
        return yield* failoverSeries("defaults", plain, load, plain.api.url)
      }))
    )
  }

  const results: ClusterResults = {
    date: new Date(),
    machine,
    delayMs: MODEL_DELAY_MS,
    teammates,
    rooms: settings.rooms,
    lanes: settings.lanes,
    phases,
    fairness: {
      posters: f.posters,
      target: BURST_TARGET,
      planned: f.posters * f.perPoster,
      burstSeconds: f.burstSeconds,
      mentionEvery: f.mentionEvery,
      quiet: quietBaseline,
      underBurst,
      burst: burstLoad
    },
    failovers,
    tuned: TUNED,
    seconds: (performance.now() - began) / 1000
  }
  yield* Console.log(`\n${clusterSummary(results)}\n`)
  if (args.write !== undefined) {
    const path = args.write
    const page = withFigures(existsSync(path) ? readFileSync(path, "utf8") : "", "cluster", clusterSummary(results))
    if (page === undefined) {
      return yield* new BenchError({ message: `${path} has no <!-- figures:cluster --> markers to write between` })
    }
    yield* Effect.sync(() => writeFileSync(path, page))
    yield* Console.log(`wrote the cluster figures of ${path}`)
  }
})

program.pipe(
  Effect.onInterrupt(() => Console.error("cluster benchmark interrupted (by a signal?); no results")),
  Effect.timeoutFail({
    duration: "12 minutes",
    onTimeout: () => new BenchError({ message: "the cluster benchmark ran over 12 minutes" })
  }),
  Effect.scoped,
  Effect.provide(FetchHttpClient.layer),
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
