/**
 * The gateway's outbox. One runner of the cluster (a singleton) follows the
 * event log from its own cursor (`gateway` in `log_cursors`) and, for every
 * message created in a bridged room, queues a delivery per bridge (UNIQUE
 * (bridge, log position): a batch read again after a crash queues nothing
 * twice), except to the account it came in through; an edit or a deletion of
 * a message that went out is queued as a delivery of its own (`chat.update`,
 * `chat.delete`; Telegram's `editMessageText`, `deleteMessage`), after it.
 * Teammates' replies stream as deltas that never reach the log; their
 * `message.created` carries the complete text, so a reply is sent once,
 * whole.
 *
 * The same runner sends what is due, in order within a destination (an
 * account's channel or chat), each send paced by the token buckets that
 * apply to it (Pacing: the channel's or chat's, a Telegram group's, a
 * Telegram bot's). A 429
 * holds the destination for its `Retry-After`; a transient failure is tried
 * again with backoff up to `MAX_ATTEMPTS`; a permanent one marks the
 * delivery failed with the reason, shown in the account's health and tail.
 */
import { Singleton } from "@effect/cluster"
import { FetchHttpClient } from "@effect/platform"
import type { Event } from "@troupe/domain/Event"
import { ChannelRepo, type DueDelivery, type MessageChange, type QueuedMessage } from "@troupe/store/ChannelRepo"
import { Clock, Config, Duration, Effect, Layer } from "effect"
import { ChannelKey } from "./ChannelKey.js"
import { Credentials } from "./Credentials.js"
import { outboundText, PermanentFailure, type SendError, TransientFailure } from "./Delivery.js"
import * as GatewayMetrics from "./GatewayMetrics.js"
import * as LogOutbox from "./internal/LogOutbox.js"
import * as Pacing from "./Pacing.js"
import * as SlackSender from "./SlackSender.js"
import * as TelegramSender from "./TelegramSender.js"

/** The outbox's cursor in `log_cursors`. */
export const CURSOR = "gateway"

/** Sends of one delivery before a transient failure becomes final. */
export const MAX_ATTEMPTS = 8

/** The longest wait between two attempts of one delivery. */
const MAX_BACKOFF_MS = 5 * 60_000

/** Deliveries sent per org and round. */
const SEND_BATCH = 100

/** Destinations sent to at once. */
const SEND_CONCURRENCY = 8

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

/** What of the log goes out: new messages, and edits and deletions of messages. */
type Outgoing =
  | { readonly _tag: "post"; readonly message: QueuedMessage }
  | { readonly _tag: "change"; readonly change: MessageChange }

/**
 * What of an event goes out: a message created (not deleted, with text), an
 * edit (with text; the store sends it only when the text changed) or a
 * deletion.
 */
const outgoing = (event: Event, position: number): Outgoing | undefined => {
  switch (event.type) {
    case "message.created": {
      const m = event.message
      return m.deletedAt === null && m.text.trim() !== ""
        ? { _tag: "post", message: { ...m, position } }
        : undefined
    }
    case "message.updated": {
      const m = event.message
      return m.deletedAt === null && m.text.trim() !== ""
        ? { _tag: "change", change: { id: m.id, action: "update", authorName: m.authorName, text: m.text, position } }
        : undefined
    }
    case "message.deleted": {
      const m = event.message
      return { _tag: "change", change: { id: m.id, action: "delete", authorName: m.authorName, text: null, position } }
    }
    default:
      return undefined
  }
}

/** Follows the log, queues deliveries and sends them; runs on one runner of the cluster at a time. */
export const run = Effect.gen(function*() {
  const repo = yield* ChannelRepo
  const key = yield* ChannelKey
  const retention = yield* Retention
  const slack = yield* SlackSender.make
  const telegram = yield* TelegramSender.make
  const openCredentials = key.open(Credentials)
  const pacing = Pacing.make()

  const send = (delivery: DueDelivery): Effect.Effect<string | null, SendError> =>
    Effect.flatMap(
      Effect.mapError(
        openCredentials(delivery.accountId, delivery.credentials),
        (e) => new TransientFailure({ reason: e.message })
      ),
      (credentials) => {
        if (credentials.kind === "webhook") {
          // Never queued (troupe_channel_enqueue): a generic webhook account only takes deliveries in.
          return Effect.fail(new PermanentFailure({ reason: "a webhook account sends nothing out" }))
        }
        const sender = credentials.kind === "slack" ? slack : telegram
        const text = outboundText(delivery.authorName, delivery.text)
        const { externalChannel: channel, target } = delivery
        if (delivery.action === "post") {
          return sender.post(credentials.botToken, channel, text, delivery.externalThread)
        }
        if (target === null) {
          return Effect.fail(new PermanentFailure({ reason: "the message never reached the platform" }))
        }
        return delivery.action === "update"
          ? sender.update(credentials.botToken, channel, target, text)
          : sender.remove(credentials.botToken, channel, target)
      }
    )

  /**
   * Sends one destination's due deliveries in order. It stops at a 429
   * (holding the destination) and leaves the rest for a later round.
   */
  const sendAll = (destination: string, deliveries: ReadonlyArray<DueDelivery>) =>
    Effect.gen(function*() {
      for (const delivery of deliveries) {
        const buckets = delivery.kind === "webhook"
          ? []
          : Pacing.bucketsOf(delivery.kind, delivery.accountId, delivery.externalChannel)
        // Buckets shared with other destinations (a bot's) may be emptied by them while this one waits: ask again.
        for (let wait = pacing.take(buckets, yield* Clock.currentTimeMillis); wait > 0;) {
          if (wait > 1000) return
          yield* Effect.sleep(Duration.millis(wait))
          wait = pacing.take(buckets, yield* Clock.currentTimeMillis)
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
        const destination = Pacing.destinationOf(d.accountId, d.externalChannel)
        byDestination.set(destination, [...(byDestination.get(destination) ?? []), d])
      }
      yield* Effect.forEach(byDestination, ([destination, list]) => sendAll(destination, list), {
        concurrency: SEND_CONCURRENCY,
        discard: true
      })
    }
  })

  return yield* LogOutbox.run<Outgoing, never>({
    cursor: CURSOR,
    name: "the gateway's outbox",
    select: (logged) => outgoing(logged.delivered.event, logged.position),
    enqueue: (orgId, selected) =>
      Effect.zipWith(
        repo.enqueue(orgId, selected.flatMap((s) => s._tag === "post" ? [s.message] : [])),
        repo.enqueueChanges(orgId, selected.flatMap((s) => s._tag === "change" ? [s.change] : [])),
        (posts, changes) => posts + changes
      ),
    sendDue,
    prune: repo.prune(Duration.toSeconds(retention))
  })
})

/** The gateway's outbox as a cluster singleton. */
export const layer = Singleton.make("GatewayOutbound", run).pipe(
  Layer.provide([ChannelRepo.Default, ChannelKey.Default, FetchHttpClient.layer])
)
