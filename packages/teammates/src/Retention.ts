/**
 * Retention, run once per cluster every 10 minutes (`ClusterCron`, on one
 * runner), whatever the number of nodes:
 *
 * - the event log keeps `EVENT_RETENTION` (default 24 hours) of events; a
 *   client resuming from an older cursor gets a `reset`;
 * - deleted orgs: a purge a stopped node left unfinished is finished;
 * - the cluster's persisted mailboxes: the cluster library keeps every
 *   processed message and reply forever; teammate triggers are de-duplicated
 *   by our own trigger table, so processed messages older than
 *   `CLUSTER_MESSAGE_RETENTION` (default 24 hours) can go. Message ids are
 *   snowflakes, so their age is read from the id itself.
 */
import { ClusterCron, Snowflake } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { EventLog } from "@troupe/store/EventLog"
import { FileRepo } from "@troupe/store/FileRepo"
import { purgeClosedOrgs } from "@troupe/store/OrgPurge"
import { Config, Cron, Duration, Effect, Either, Layer } from "effect"

/** The oldest snowflake id younger than `age`. */
export const snowflakeCutoff = (age: Duration.Duration, now = Date.now()) =>
  (BigInt(Math.max(0, now - Duration.toMillis(age) - Snowflake.constEpochMillis)) << BigInt(22)).toString()

/**
 * Deletes processed cluster messages (and their replies) older than `age` at
 * `now`, in batches; returns how many.
 */
export const pruneClusterMessages = (age: Duration.Duration, now = Date.now()) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const cutoff = snowflakeCutoff(age, now)
    let total = 0
    for (let batch = 0; batch < 100; batch++) {
      const rows = yield* sql<{ n: number }>`
        WITH old AS (
          DELETE FROM cluster_messages WHERE id IN (
            SELECT id FROM cluster_messages WHERE processed AND id < ${cutoff}::bigint LIMIT 5000)
          RETURNING request_id),
        replies AS (DELETE FROM cluster_replies WHERE request_id IN (SELECT request_id FROM old))
        SELECT count(*)::int AS n FROM old`
      const n = rows[0]?.n ?? 0
      total += n
      if (n < 5000) break
    }
    return total
  })

/**
 * Removes the file contents no file refers to any more (a deleted room's,
 * say), rows and bytes, in up to 100 orgs; returns how many went.
 */
export const sweepOrphanFiles = Effect.gen(function*() {
  const files = yield* FileRepo
  const orgs = yield* files.orphanOrgs(100)
  const removed = yield* Effect.forEach(orgs, (orgId) => files.sweep(orgId))
  return removed.reduce((a, b) => a + b, 0)
})

/** Retention periods. */
export const RetentionConfig = Config.all({
  /** How long events stay replayable (`EVENT_RETENTION`, default 24 hours, at least a minute). */
  events: Config.duration("EVENT_RETENTION").pipe(Config.withDefault(Duration.hours(24))),
  /** How long processed cluster messages are kept (`CLUSTER_MESSAGE_RETENTION`, default 24 hours). */
  clusterMessages: Config.duration("CLUSTER_MESSAGE_RETENTION").pipe(Config.withDefault(Duration.hours(24)))
})

/** Every 10 minutes. */
const every10Minutes = Either.getOrThrow(Cron.parse("*/10 * * * *"))

/** The event log's retention, once per cluster. */
const EventRetentionLive = Layer.unwrapEffect(Effect.map(RetentionConfig, (config) =>
  ClusterCron.make({
    name: "EventRetention",
    cron: every10Minutes,
    execute: Effect.flatMap(EventLog, (log) => log.prune(Math.max(60, Math.round(Duration.toSeconds(config.events)))))
      .pipe(
        Effect.tap((n) => n > 0 ? Effect.logInfo(`pruned ${n} events older than the retention period`) : Effect.void),
        Effect.catchAll((e) => Effect.logWarning("event retention failed", e)),
        Effect.withTracerEnabled(false)
      )
  })))

/** File contents no file refers to any more (a deleted room's, say), removed with their bytes, once per cluster. */
const FileRetentionLive = ClusterCron.make({
  name: "FileRetention",
  cron: every10Minutes,
  execute: sweepOrphanFiles.pipe(
    Effect.tap((n) => n > 0 ? Effect.logInfo(`removed ${n} file contents no file refers to`) : Effect.void),
    Effect.catchAll((e) => Effect.logWarning("file retention failed", e)),
    Effect.withTracerEnabled(false)
  )
})

/** Deleted orgs whose purge a stopped node left unfinished, purged once per cluster. */
const OrgPurgeLive = ClusterCron.make({
  name: "OrgPurge",
  cron: every10Minutes,
  execute: purgeClosedOrgs(20).pipe(
    Effect.tap((n) => n > 0 ? Effect.logInfo(`purged ${n} deleted orgs`) : Effect.void),
    Effect.catchAll((e) => Effect.logWarning("deleted org purge failed", e)),
    Effect.withTracerEnabled(false)
  )
})

/** The cluster mailboxes' retention, once per cluster. */
const MailboxRetentionLive = Layer.unwrapEffect(Effect.map(RetentionConfig, (config) =>
  ClusterCron.make({
    name: "MailboxRetention",
    cron: every10Minutes,
    execute: pruneClusterMessages(config.clusterMessages).pipe(
      Effect.tap((n) => n > 0 ? Effect.logInfo(`pruned ${n} processed cluster messages`) : Effect.void),
      Effect.catchAll((e) => Effect.logWarning("cluster message retention failed", e)),
      Effect.withTracerEnabled(false)
    )
  })))

/** The retention jobs, for nodes that host entities. */
export const layer = Layer.mergeAll(EventRetentionLive, MailboxRetentionLive, FileRetentionLive, OrgPurgeLive)
