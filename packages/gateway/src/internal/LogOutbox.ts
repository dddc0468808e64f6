/**
 * What the gateway's outboxes (room messages to the platforms, events to
 * webhook endpoints) share: one runner follows the event log from its own
 * cursor, queues what it selects per org (one statement per org and batch,
 * idempotent, so a batch read again after a crash queues nothing twice),
 * sends what is due and prunes old records, woken through the bus and polling
 * as a fallback.
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { OrgId } from "@troupe/domain/Ids"
import { wakeSignal } from "@troupe/realtime/EventBus"
import { isSqlError, isUnavailable, type RowError } from "@troupe/store/DatabaseError"
import { EventLog, lazyCursor, type LoggedEvent } from "@troupe/store/EventLog"
import { Clock, Config, Duration, Effect, Queue, Schedule } from "effect"

/** Events read per round trip. */
const BATCH = 200

/** How often old records are pruned. */
const PRUNE_EVERY = Duration.hours(1)

/** How often an outbox looks for work when no wake-up arrives (`EVENT_POLL_INTERVAL`, default 1 second). */
const PollInterval = Config.duration("EVENT_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(1)))

/** What an outbox does with the log. */
export interface LogOutboxOptions<A, R> {
  /** Its cursor in `log_cursors`. */
  readonly cursor: string
  /** Its name in logs ("the gateway's outbox"). */
  readonly name: string
  /** What of an event of an org it queues, if anything. */
  readonly select: (logged: LoggedEvent & { readonly orgId: OrgId }) => A | undefined
  /** Queues one org's selection; returns how many records were queued. */
  readonly enqueue: (orgId: OrgId, selected: ReadonlyArray<A>) => Effect.Effect<number, SqlError | RowError, R>
  /** Sends what is due. */
  readonly sendDue: Effect.Effect<void, unknown, R>
  /** Prunes old records (at start, then hourly); returns how many went. */
  readonly prune: Effect.Effect<number, unknown, R>
}

/**
 * Runs an outbox forever. Due work (retries, what another node queued) is
 * sent on every poll; a wake-up sends at once only when it queued something,
 * so an event nothing selects costs no query for due work. A failed round is
 * logged and the next one starts a second later.
 */
export const run = <A, R>(options: LogOutboxOptions<A, R>) =>
  Effect.gen(function*() {
    const log = yield* EventLog
    const interval = yield* PollInterval
    const { headAfter, kick } = yield* wakeSignal
    let position = yield* log.cursor(options.cursor).pipe(Effect.retry(Schedule.spaced("1 second")))

    /**
     * The cursor is saved at once after a batch that queued something, lazily
     * otherwise: events nothing selects cost no write each.
     */
    const save = lazyCursor(log, options.cursor, position)

    /**
     * Queues what everything after the cursor selects; the cursor moves once
     * it is stored. An outage ends the round (the batch is read again); any
     * other failure of an org's selection is logged and it is skipped, so one
     * bad row never stops the outbox. Whether anything was queued.
     */
    const follow = Effect.gen(function*() {
      let enqueued = false
      while (true) {
        const batch = yield* log.readAfter(position, BATCH, headAfter(position))
        const byOrg = new Map<OrgId, Array<A>>()
        for (const logged of batch) {
          const orgId = logged.orgId
          const selected = orgId === null ? undefined : options.select({ ...logged, orgId })
          if (orgId !== null && selected !== undefined) byOrg.set(orgId, [...(byOrg.get(orgId) ?? []), selected])
        }
        for (const [orgId, selected] of byOrg) {
          const queued = yield* options.enqueue(orgId, selected).pipe(
            Effect.catchIf(
              (e) => !(isSqlError(e) && isUnavailable(e)),
              (e) =>
                Effect.as(Effect.logError(`${options.name} skips ${selected.length} event(s) of org ${orgId}`, e), 0)
            )
          )
          if (queued > 0) enqueued = true
        }
        const last = batch.at(-1)
        if (last !== undefined) position = last.position
        yield* save(position, enqueued || batch.length === 0)
        if (batch.length < BATCH) return enqueued
      }
    })

    let prunedAt = Number.NEGATIVE_INFINITY
    const pruneOld = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (now - prunedAt < Duration.toMillis(PRUNE_EVERY)) return
      const deleted = yield* options.prune
      prunedAt = now
      if (deleted > 0) yield* Effect.logInfo(`${options.name} pruned ${deleted} old record(s)`)
    })

    let polled = true
    return yield* Effect.gen(function*() {
      yield* follow.pipe(
        Effect.flatMap((enqueued) => enqueued || polled ? options.sendDue : Effect.void),
        Effect.zipRight(pruneOld),
        Effect.catchAllCause((cause) =>
          Effect.zipRight(Effect.logWarning(`${options.name} failed a round`, cause), Effect.sleep("1 second"))
        )
      )
      polled = yield* Queue.take(kick).pipe(
        Effect.timeout(interval),
        Effect.as(false),
        Effect.orElseSucceed(() => true)
      )
    }).pipe(Effect.forever, Effect.withTracerEnabled(false))
  })
