/**
 * The gateway's outbox. One runner of the cluster (a singleton) follows the
 * event log from its own cursor (`gateway` in `log_cursors`) and, for every
 * message created in a bridged room, queues a delivery per bridge (UNIQUE
 * (message, bridge): a batch read again after a crash queues nothing twice),
 * except to the account it came in through. Teammates' replies stream as
 * deltas that never reach the log; their `message.created` carries the
 * complete text, so a reply is sent once, whole.
 *
 * The same runner sends what is due, each destination (an account's
 * channel or chat) paced by a token bucket, in order within a destination. A 429
 * holds the destination for its `Retry-After`; a transient failure is tried
 * again with backoff up to `MAX_ATTEMPTS`; a permanent one marks the
 * delivery failed with the reason, shown in the account's health and tail.
 */
import { Singleton } from "@effect/cluster"
import { FetchHttpClient } from "@effect/platform"
import type { Event } from "@troupe/domain/Event"
import type { OrgId } from "@troupe/domain/Ids"
import { wakeSignal } from "@troupe/realtime/EventBus"
import { ChannelRepo, type DueDelivery, type QueuedMessage } from "@troupe/store/ChannelRepo"
import { isSqlError, isUnavailable } from "@troupe/store/DatabaseError"
import { EventLog, lazyCursor } from "@troupe/store/EventLog"
import { Clock, Config, Duration, Effect, Layer, Queue, Schedule } from "effect"
import { ChannelKey } from "./ChannelKey.js"
import { Credentials } from "./Credentials.js"
import { outboundText, type SendError, TransientFailure } from "./Delivery.js"
import * as GatewayMetrics from "./GatewayMetrics.js"
import * as Pacing from "./Pacing.js"
import * as SlackSender from "./SlackSender.js"
import * as TelegramSender from "./TelegramSender.js"

/** The outbox's cursor in `log_cursors`. */
export const CURSOR = "gateway"

/** Sends of one delivery before a transient failure becomes final. */
export const MAX_ATTEMPTS = 8

/** The longest wait between two attempts of one delivery. */
const MAX_BACKOFF_MS = 5 * 60_000

/** Events read per round trip. */
const BATCH = 200

/** Deliveries sent per org and round. */
const SEND_BATCH = 100

/** Destinations sent to at once. */
const SEND_CONCURRENCY = 8

/** How often the outbox looks for work when no wake-up arrives (`EVENT_POLL_INTERVAL`, default 1 second). */
const PollInterval = Config.duration("EVENT_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(1)))

/**
 * How long received deliveries are remembered (so a replay within it is
 * stored once) and finished deliveries kept for the tail
 * (`GATEWAY_RETENTION`, default 7 days, at least 1 day).
 */
export const Retention = Config.duration("GATEWAY_RETENTION").pipe(
  Config.withDefault(Duration.days(7)),
  Config.validate({
    message: "GATEWAY_RETENTION must be at least 1 day: deliveries are de-duplicated for that long",
    validation: (d) => Duration.greaterThanOrEqualTo(d, Duration.days(1))
  })
)

/** How often old gateway records are pruned. */
const PRUNE_EVERY = Duration.hours(1)

/** A message that goes out: created, not deleted, with text. */
const outgoing = (event: Event) =>
  event.type === "message.created" && event.message.deletedAt === null && event.message.text.trim() !== ""
    ? event.message
    : undefined

/** Follows the log, queues deliveries and sends them; runs on one runner of the cluster at a time. */
export const run = Effect.gen(function*() {
  const log = yield* EventLog
  const repo = yield* ChannelRepo
  const key = yield* ChannelKey
  const interval = yield* PollInterval
  const retention = yield* Retention
  const slack = yield* SlackSender.make
  const telegram = yield* TelegramSender.make
  const openCredentials = key.open(Credentials)
  const pacing = Pacing.make({ burst: 3, perSecond: 1 })
  const { headAfter, kick } = yield* wakeSignal
  let position = yield* log.cursor(CURSOR).pipe(Effect.retry(Schedule.spaced("1 second")))

  /**
   * Queues deliveries for everything after the cursor, one statement per org
   * and batch; the cursor moves once they are stored. An outage ends the
   * round (the batch is read again); any other failure of an org's messages
   * is logged and they are skipped, so one bad row never stops the gateway.
   */
  /** Whether the last \`follow\` queued any delivery (then \`sendDue\` runs at once, not at the next poll). */
  let enqueued = false

  const follow = Effect.gen(function*() {
    enqueued = false
    while (true) {
      const batch = yield* log.readAfter(position, BATCH, headAfter(position))
      const byOrg = new Map<OrgId, Array<QueuedMessage>>()
      for (const logged of batch) {
        const message = outgoing(logged.delivered.event)
        if (logged.orgId !== null && message !== undefined) {
          const queued = { ...message, position: logged.position }
          byOrg.set(logged.orgId, [...(byOrg.get(logged.orgId) ?? []), queued])
        }
      }
      for (const [orgId, messages] of byOrg) {
        const queued = yield* repo.enqueue(orgId, messages).pipe(
          Effect.catchIf(
            (e) => !(isSqlError(e) && isUnavailable(e)),
            (e) =>
              Effect.as(
                Effect.logError(`the gateway's outbox skips ${messages.length} message(s) of org ${orgId}`, e),
                0
              )
          )
        )
        if (queued > 0) enqueued = true
      }
      const last = batch.at(-1)
      if (last !== undefined) position = last.position
      yield* save(position, enqueued || batch.length === 0)
      if (batch.length < BATCH) return
    }
  })

  /**
   * The cursor is saved at once after a batch that queued deliveries, lazily
   * otherwise: chat in rooms with no bridge costs the gateway no write per
   * message. What a crash makes it read again is queued once (UNIQUE (message, bridge)).
   */
  const save = lazyCursor(log, CURSOR, position)

  const send = (delivery: DueDelivery): Effect.Effect<string | null, SendError> =>
    Effect.flatMap(
      Effect.mapError(
        openCredentials(delivery.accountId, delivery.credentials),
        (e) => new TransientFailure({ reason: e.message })
      ),
      (credentials) => {
        const text = outboundText(delivery.authorName, delivery.text)
        return credentials.kind === "slack"
          ? slack(credentials.botToken, delivery.externalChannel, text, delivery.externalThread)
          : telegram(credentials.botToken, delivery.externalChannel, text, delivery.externalThread)
      }
    )

  /**
   * Sends one destination's due deliveries in order. It stops at a 429
   * (holding the destination) and leaves the rest for a later round.
   */
  const sendAll = (destination: string, deliveries: ReadonlyArray<DueDelivery>) =>
    Effect.gen(function*() {
      for (const delivery of deliveries) {
        const wait = pacing.take(destination, yield* Clock.currentTimeMillis)
        if (wait > 1000) return
        if (wait > 0) {
          yield* Effect.sleep(Duration.millis(wait))
          pacing.take(destination, yield* Clock.currentTimeMillis)
        }
        const outcome = yield* Effect.either(send(delivery))
        const now = yield* Clock.currentTimeMillis
        const counted = (what: string) => GatewayMetrics.count(GatewayMetrics.outbound, delivery.kind, what)
        if (outcome._tag === "Right") {
          yield* repo.sent(delivery, outcome.right)
          yield* counted("sent")
          continue
        }
        const error = outcome.left
        if (error._tag === "RateLimitedByPlatform") {
          pacing.hold(destination, now + error.retryAfterMs, now)
          yield* repo.retry(delivery, new Date(now + error.retryAfterMs), "rate limited by the platform (429)")
          yield* counted("rate_limited")
          return
        }
        if (error._tag === "PermanentFailure" || delivery.attempts + 1 >= MAX_ATTEMPTS) {
          yield* repo.failed(delivery, error.reason)
          yield* counted("failed")
          continue
        }
        const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** delivery.attempts)
        yield* repo.retry(delivery, new Date(now + backoff), error.reason)
        yield* counted("retry")
      }
    })

  /** Sends what is due in every org, destinations side by side. */
  const sendDue = Effect.gen(function*() {
    pacing.sweep(yield* Clock.currentTimeMillis)
    for (const orgId of yield* repo.orgsDue(100)) {
      const due = yield* repo.due(orgId, SEND_BATCH)
      const byDestination = new Map<string, Array<DueDelivery>>()
      for (const d of due) {
        const destination = `${d.accountId}/${d.externalChannel}`
        byDestination.set(destination, [...(byDestination.get(destination) ?? []), d])
      }
      yield* Effect.forEach(byDestination, ([destination, list]) => sendAll(destination, list), {
        concurrency: SEND_CONCURRENCY,
        discard: true
      })
    }
  })

  /** Prunes old records at start and then once per `PRUNE_EVERY`. */
  let prunedAt = 0
  const pruneOld = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (now - prunedAt < Duration.toMillis(PRUNE_EVERY)) return
    const deleted = yield* repo.prune(Duration.toSeconds(retention))
    prunedAt = now
    if (deleted > 0) yield* Effect.logInfo(`the gateway pruned ${deleted} old delivery record(s)`)
  })

  // Due deliveries (retries, held destinations, what another node queued) are sent on every poll;
  // a wake-up sends at once only what it queued, so plain chat costs no query for due work.
  let polled = true
  return yield* Effect.gen(function*() {
    yield* follow.pipe(
      Effect.zipRight(Effect.suspend(() => enqueued || polled ? sendDue : Effect.void)),
      Effect.zipRight(pruneOld),
      Effect.catchAllCause((cause) =>
        Effect.zipRight(Effect.logWarning("the gateway's outbox failed a round", cause), Effect.sleep("1 second"))
      )
    )
    polled = yield* Queue.take(kick).pipe(
      Effect.timeout(interval),
      Effect.as(false),
      Effect.orElseSucceed(() => true)
    )
  }).pipe(Effect.forever, Effect.withTracerEnabled(false))
})

/** The gateway's outbox as a cluster singleton. */
export const layer = Singleton.make("GatewayOutbound", run).pipe(
  Layer.provide([ChannelRepo.Default, ChannelKey.Default, FetchHttpClient.layer])
)
