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
import type { OrgId, RoomId } from "@troupe/domain/Ids"
import type { RoomInfo } from "@troupe/domain/Room"
import { wakeSignal } from "@troupe/realtime/EventBus"
import { isSqlError } from "@troupe/store/DatabaseError"
import { EventLog, lazyCursor } from "@troupe/store/EventLog"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Config, Duration, Effect, FiberRef, Option, Queue, Schedule } from "effect"
import { Dispatcher } from "./Dispatcher.js"

/** The outbox's cursor in `log_cursors`. */
export const CURSOR = "teammates"

/** Attempts at one message before the outbox gives up on it (one round per second). */
const MAX_ATTEMPTS = 30

/** Events read per round trip. */
const BATCH = 200

/** How often the outbox reads the log when no wake-up arrives (`EVENT_POLL_INTERVAL`, default 1 second). */
const PollInterval = Config.duration("EVENT_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(1)))

/** Rooms remembered by the outbox; past this many it starts afresh. */
const ROOM_CACHE = 50_000

/** A message a person posted: the only events that trigger teammates. */
const postedByPerson = (event: Event) =>
  event.type === "message.created" && event.message.authorKind === "user" && event.message.deletedAt === null

/** Follows the log and dispatches; runs on one runner of the cluster at a time. */
export const run = Effect.gen(function*() {
  const log = yield* EventLog
  const rooms = yield* RoomRepo
  const dispatcher = yield* Dispatcher
  const interval = yield* PollInterval
  const { headAfter, kick } = yield* wakeSignal
  let position = yield* log.cursor(CURSOR).pipe(Effect.retry(Schedule.spaced("1 second")))
  /** Failed attempts at the message after `position`: one that keeps failing is given up, not retried forever. */
  let attempts = 0
  /** Traces of dispatches are made only when the node makes traces at all. */
  const tracing = yield* FiberRef.get(FiberRef.currentTracerEnabled)

  /**
   * The rooms messages were posted in, kept current from the log itself: the
   * outbox reads every `room.*` event in order, so a routing change is known
   * before any message after it. A room not seen yet is read once.
   */
  const roomCache = new Map<RoomId, RoomInfo>()
  const remember = (room: RoomInfo) => {
    if (roomCache.size >= ROOM_CACHE) roomCache.clear()
    roomCache.set(room.id, room)
  }
  const roomOf = (orgId: OrgId, roomId: RoomId) => {
    const known = roomCache.get(roomId)
    return known !== undefined ? Effect.succeed(known) : Effect.tap(rooms.info(orgId, roomId), remember)
  }

  /**
   * The cursor is saved at once after a batch that triggered or logged
   * anything (so a crash repeats as little as possible), lazily otherwise:
   * plain chat then costs the outbox no write per message.
   */
  const save = lazyCursor(log, CURSOR, position)

  /**
   * Dispatches everything after the cursor. A failure ends the round and the
   * cursor keeps the place, so the message is tried again next round.
   */
  const drain = Effect.gen(function*() {
    while (true) {
      const batch = yield* log.readAfter(position, BATCH, headAfter(position))
      let acted = false
      for (const logged of batch) {
        const event = logged.delivered.event
        if (event.type === "room.created" || event.type === "room.updated" || event.type === "room.archived") {
          remember(event.room)
        }
        if (logged.orgId !== null && postedByPerson(event) && event.type === "message.created") {
          const message = event.message
          const result = yield* Effect.flatMap(
            roomOf(logged.orgId, message.roomId),
            (room) => dispatcher.dispatch(room, message)
          )
            .pipe(
              // A room that is gone has no one to answer; anything else is retried.
              Effect.catchTag(
                "NotFound",
                (e) => Effect.as(Effect.logWarning(`the outbox skips message ${message.id}: ${e.message}`), undefined)
              ),
              // A database outage is waited out; other failures count towards giving up.
              Effect.tapError((e) => Effect.sync(() => isSqlError(e) ? undefined : attempts++)),
              Effect.catchAll((e) =>
                attempts >= MAX_ATTEMPTS
                  ? Effect.as(
                    Effect.zipRight(
                      Effect.sync(() => attempts = 0),
                      Effect.logError(`the outbox gives up on message ${message.id} after ${MAX_ATTEMPTS} attempts`, e)
                    ),
                    undefined
                  )
                  : Effect.fail(e)
              ),
              // The message's triggers and turns join the trace of the request that posted it.
              Effect.withSpan("Outbox.dispatch", {
                kind: "consumer",
                attributes: { "event.id": logged.delivered.id, "message.id": message.id },
                ...Option.match(logged.writer, { onNone: () => ({ root: true }), onSome: (parent) => ({ parent }) })
              }),
              Effect.withTracerEnabled(tracing)
            )
          if (result !== undefined && (result.triggered.length > 0 || result.logged)) acted = true
        }
        position = logged.position
        attempts = 0
      }
      yield* save(position, acted || batch.length === 0)
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
