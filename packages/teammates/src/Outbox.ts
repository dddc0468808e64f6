/**
 * The teammates' outbox: the event log read as a queue of work. One runner of
 * the cluster (a singleton) follows the log from a persisted cursor and hands
 * every message people posted to the dispatcher, which records and sends the
 * triggers it causes. A message that committed is therefore answered even if
 * the node that stored it died right after the commit, and posting a message
 * never waits for teammates: the request is done when the message is stored.
 *
 * Dispatching is idempotent (trigger ids derive from the message and the
 * teammate, and the cluster de-duplicates sends by trigger id), so a batch
 * replayed after a crash or a move of the singleton triggers nothing twice.
 */
import { Singleton } from "@effect/cluster"
import type { Event } from "@troupe/domain/Event"
import { EventBus } from "@troupe/realtime/EventBus"
import { isSqlError } from "@troupe/store/DatabaseError"
import { EventLog } from "@troupe/store/EventLog"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Config, Duration, Effect, Option, Queue, Schedule, Stream } from "effect"
import { Dispatcher } from "./Dispatcher.js"

/** The outbox's cursor in `log_cursors`. */
export const CURSOR = "teammates"

/** Attempts at one message before the outbox gives up on it (one round per second). */
const MAX_ATTEMPTS = 30

/** Events read per round trip. */
const BATCH = 200

/** How often the outbox reads the log when no wake-up arrives (`EVENT_POLL_INTERVAL`, default 1 second). */
const PollInterval = Config.duration("EVENT_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(1)))

/** A message a person posted: the only events that trigger teammates. */
const postedByPerson = (event: Event) =>
  event.type === "message.created" && event.message.authorKind === "user" && event.message.deletedAt === null

/** Follows the log and dispatches; runs on one runner of the cluster at a time. */
export const run = Effect.gen(function*() {
  const log = yield* EventLog
  const bus = yield* EventBus
  const rooms = yield* RoomRepo
  const dispatcher = yield* Dispatcher
  const interval = yield* PollInterval
  const kick = yield* Queue.sliding<void>(1)
  yield* bus.wakes.pipe(Stream.runForEach(() => Queue.offer(kick, undefined)), Effect.forkScoped)
  let position = yield* log.cursor(CURSOR).pipe(Effect.retry(Schedule.spaced("1 second")))
  /** Failed attempts at the message after `position`: one that keeps failing is given up, not retried forever. */
  let attempts = 0

  /**
   * Dispatches everything after the cursor. A failure ends the round and the
   * cursor keeps the place, so the message is tried again next round.
   */
  const drain = Effect.gen(function*() {
    while (true) {
      const batch = yield* log.readAfter(position, BATCH)
      for (const logged of batch) {
        const event = logged.delivered.event
        if (logged.orgId !== null && postedByPerson(event) && event.type === "message.created") {
          const message = event.message
          yield* Effect.flatMap(rooms.info(logged.orgId, message.roomId), (room) => dispatcher.dispatch(room, message))
            .pipe(
              // A room that is gone has no one to answer; anything else is retried.
              Effect.catchTag(
                "NotFound",
                (e) => Effect.logWarning(`the outbox skips message ${message.id}: ${e.message}`)
              ),
              // A database outage is waited out; other failures count towards giving up.
              Effect.tapError((e) => Effect.sync(() => isSqlError(e) ? undefined : attempts++)),
              Effect.catchAll((e) =>
                attempts >= MAX_ATTEMPTS
                  ? Effect.zipRight(
                    Effect.sync(() => attempts = 0),
                    Effect.logError(`the outbox gives up on message ${message.id} after ${MAX_ATTEMPTS} attempts`, e)
                  )
                  : Effect.fail(e)
              ),
              // The message's triggers and turns join the trace of the request that posted it.
              Effect.withSpan("Outbox.dispatch", {
                kind: "consumer",
                attributes: { "event.id": logged.delivered.id, "message.id": message.id },
                ...Option.match(logged.writer, { onNone: () => ({ root: true }), onSome: (parent) => ({ parent }) })
              }),
              Effect.withTracerEnabled(true)
            )
        }
        position = logged.position
        attempts = 0
      }
      if (batch.length > 0) yield* log.saveCursor(CURSOR, position)
      if (batch.length < BATCH) return
    }
  })

  return yield* Effect.gen(function*() {
    yield* drain.pipe(
      Effect.catchAllCause((cause) =>
        Effect.zipRight(Effect.logWarning("the teammates' outbox cannot read the log", cause), Effect.sleep("1 second"))
      )
    )
    yield* Queue.take(kick).pipe(Effect.timeout(interval), Effect.ignore)
  }).pipe(Effect.forever, Effect.withTracerEnabled(false))
})

/** The outbox as a cluster singleton. */
export const layer = Singleton.make("TeammatesOutbox", run)
