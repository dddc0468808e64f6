/**
 * Retention for the cluster's persisted mailboxes. The cluster library
 * keeps every processed message and reply forever; teammate triggers are
 * de-duplicated by our own trigger table, so processed messages older than
 * `CLUSTER_MESSAGE_RETENTION` (default 24 hours) can go. Message ids are
 * snowflakes, so their age is read from the id itself.
 */
import { Snowflake } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { Config, Duration, Effect, Layer, Schedule } from "effect"

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

/** Runs the pruning every 10 minutes on this node. */
export const ClusterRetentionLive = Layer.scopedDiscard(Effect.gen(function*() {
  const age = yield* Config.duration("CLUSTER_MESSAGE_RETENTION").pipe(Config.withDefault(Duration.hours(24)))
  yield* pruneClusterMessages(age).pipe(
    Effect.tap((n) => n > 0 ? Effect.logInfo(`pruned ${n} processed cluster messages`) : Effect.void),
    Effect.catchAll((e) => Effect.logWarning("cluster message retention failed", e)),
    Effect.withTracerEnabled(false),
    Effect.repeat(Schedule.spaced("10 minutes")),
    Effect.delay("30 seconds"),
    Effect.forkScoped
  )
}))
