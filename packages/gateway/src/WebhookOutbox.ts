/**
 * The outbox of outbound webhooks. One runner of the cluster (a singleton)
 * follows the event log from its own cursor (`webhooks` in `log_cursors`)
 * and queues each event an endpoint may receive (org-wide events and events
 * of public rooms, of a type it subscribed to) once per endpoint (UNIQUE
 * (endpoint, position)), with the body every attempt carries.
 *
 * The same runner sends what is due, endpoints side by side, one endpoint's
 * deliveries one at a time. Each attempt is signed anew (Standard Webhooks:
 * `webhook-id` is the delivery's id on every attempt, `webhook-timestamp` the
 * attempt's time), with the endpoint's secret and, for a day after a
 * rotation, the previous one too. A 2xx answer is success; a private
 * address refused (WebhookTarget) fails the delivery at once; anything else
 * (another status, a redirect, no answer within 15 seconds) is tried again after
 * `retryDelay(attempts)` (at least a 429's `Retry-After`) while that is
 * within a day of the event, and then the delivery is marked failed. Every
 * time here is the Effect clock, so tests drive the schedule with `TestClock`.
 */
import { Singleton } from "@effect/cluster"
import { Delivered } from "@troupe/domain/Event"
import type { OrgId } from "@troupe/domain/Ids"
import { isWebhookEventType } from "@troupe/domain/Webhook"
import type { LoggedEvent } from "@troupe/store/EventLog"
import { type DueWebhook, type WebhookAttempt, type WebhookEvent, WebhookRepo } from "@troupe/store/WebhookRepo"
import { Array as Arr, Clock, Duration, Effect, Layer, Schema } from "effect"
import { ChannelKey } from "./ChannelKey.js"
import { EndpointSecret } from "./Credentials.js"
import * as GatewayMetrics from "./GatewayMetrics.js"
import * as LogOutbox from "./internal/LogOutbox.js"
import { Retention } from "./Outbound.js"
import * as StandardWebhooks from "./StandardWebhooks.js"
import * as WebhookTarget from "./WebhookTarget.js"

/** The outbox's cursor in `log_cursors`. */
export const CURSOR = "webhooks"

/** How long after its event a delivery may still be tried. */
export const DELIVERY_WINDOW = Duration.days(1)

/** The first retry's wait; each next one doubles, up to `MAX_RETRY_DELAY`. */
const FIRST_RETRY_DELAY = Duration.seconds(30)

/** The longest wait between two attempts. */
const MAX_RETRY_DELAY = Duration.hours(4)

/** How long one attempt may take. */
const ATTEMPT_TIMEOUT = Duration.seconds(15)

/** Deliveries sent per org and round. */
const SEND_BATCH = 100

/** Endpoints sent to at once. */
const SEND_CONCURRENCY = 8

/**
 * The wait after the `attempts`-th failed attempt: 30 s, 1, 2, 4, 8, 16, 32,
 * 64 and 128 minutes, then 4 hours each time (14 attempts within the day).
 */
export const retryDelay = (attempts: number): Duration.Duration =>
  Duration.min(Duration.times(FIRST_RETRY_DELAY, 2 ** Math.max(0, attempts - 1)), MAX_RETRY_DELAY)

const encodeDelivered = Schema.encodeSync(Delivered)

/**
 * The body of an event's deliveries, as Standard Webhooks suggests: its
 * `type`, a `timestamp` and, as `data`, the event exactly as the event stream
 * delivers it (`id`, `orgId`, `at`, `event`).
 */
export const payloadOf = (delivered: Delivered) =>
  JSON.stringify({
    type: delivered.event.type,
    timestamp: delivered.at.toISOString(),
    data: encodeDelivered(delivered)
  })

/** The text of an error kept on a delivery: short, never the URL (it may carry a token). */
const reasonOf = (status: number | null) => status === null ? "no answer" : `answered ${status}`

/** Seconds in a `Retry-After` header (a number of seconds), if it has any. */
const retryAfterOf = (header: string | undefined) =>
  header !== undefined && /^\d{1,6}$/.test(header.trim()) ? Duration.seconds(Number(header.trim())) : undefined

/** Follows the log, queues deliveries and sends them; runs on one runner of the cluster at a time. */
export const run = Effect.gen(function*() {
  const repo = yield* WebhookRepo
  const key = yield* ChannelKey
  const retention = yield* Retention
  const allowPrivate = yield* WebhookTarget.AllowPrivate
  const openSecret = key.open(EndpointSecret)
  const counted = (outcome: string) => GatewayMetrics.count(GatewayMetrics.outbound, "webhook", outcome)

  /** The secrets a delivery is signed with: the endpoint's, and the one before it while it still signs. */
  const secretsOf = (delivery: DueWebhook) =>
    Effect.gen(function*() {
      const current = yield* openSecret(delivery.endpointId, delivery.secret)
      const previous = delivery.previousSecret === null
        ? []
        : [(yield* openSecret(delivery.endpointId, delivery.previousSecret)).secret]
      const secrets: readonly [string, ...Array<string>] = [current.secret, ...previous]
      return secrets
    })

  /** One attempt: the HTTP status, or null and why when there was no answer in time. */
  const attempt = (delivery: DueWebhook, secrets: readonly [string, ...Array<string>], at: Date) =>
    WebhookTarget.post(
      delivery.url,
      {
        ...StandardWebhooks.sign(secrets, delivery.id, at, delivery.payload),
        "content-type": "application/json",
        "user-agent": "Troupe-Webhooks"
      },
      delivery.payload,
      allowPrivate
    ).pipe(
      Effect.map((answer) => ({
        status: answer.status,
        retryAfter: retryAfterOf(answer.retryAfter),
        refused: undefined
      })),
      Effect.timeout(ATTEMPT_TIMEOUT),
      Effect.catchAll((error) =>
        Effect.succeed({
          status: null,
          retryAfter: undefined,
          refused: error._tag === "NoAnswer" && error.refused ? error.reason : undefined
        })
      )
    )

  /** Sends one endpoint's due deliveries in order; a failure leaves the rest for a later round. */
  const sendAll = (deliveries: ReadonlyArray<DueWebhook>) =>
    Effect.gen(function*() {
      for (const delivery of deliveries) {
        const now = yield* Clock.currentTimeMillis
        const deadline = delivery.createdAt.getTime() + Duration.toMillis(DELIVERY_WINDOW)
        if (now >= deadline) {
          const late: WebhookAttempt = { status: null, error: "not delivered within a day" }
          yield* repo.attempted(delivery, late, null, new Date(now))
          yield* counted("failed")
          continue
        }
        const secrets = yield* Effect.either(secretsOf(delivery))
        if (secrets._tag === "Left") {
          yield* repo.attempted(
            delivery,
            { status: null, error: secrets.left.message },
            new Date(now + 60_000),
            new Date(now)
          )
          yield* counted("retry")
          return
        }
        const outcome = yield* attempt(delivery, secrets.right, new Date(now))
        const after = yield* Clock.currentTimeMillis
        if (outcome.refused !== undefined) {
          // A private address is refused for good: trying again would be refused again.
          yield* repo.attempted(delivery, { status: null, error: outcome.refused }, null, new Date(after))
          yield* counted("refused")
          continue
        }
        if (outcome.status !== null && outcome.status >= 200 && outcome.status < 300) {
          yield* repo.sent(delivery, outcome.status, new Date(after))
          yield* counted("sent")
          continue
        }
        const backoff = retryDelay(delivery.attempts + 1)
        const wait = outcome.retryAfter === undefined ? backoff : Duration.max(backoff, outcome.retryAfter)
        const retryAt = after + Duration.toMillis(wait)
        const failed: WebhookAttempt = { status: outcome.status, error: reasonOf(outcome.status) }
        yield* repo.attempted(delivery, failed, retryAt < deadline ? new Date(retryAt) : null, new Date(after))
        yield* counted(retryAt < deadline ? (outcome.status === 429 ? "rate_limited" : "retry") : "failed")
        return
      }
    })

  /** Sends what is due in every org, endpoints side by side. */
  const sendDue = Effect.gen(function*() {
    const now = new Date(yield* Clock.currentTimeMillis)
    for (const orgId of yield* repo.orgsDue(now, 100)) {
      const due = yield* repo.due(orgId, now, SEND_BATCH)
      const byEndpoint = Object.values(Arr.groupBy(due, (d) => d.endpointId))
      yield* Effect.forEach(byEndpoint, sendAll, { concurrency: SEND_CONCURRENCY, discard: true })
    }
  })

  /**
   * Queues one org's events for its endpoints. Their bodies are built only
   * for the types some enabled endpoint subscribes to: an org with no
   * endpoint costs one cheap statement per batch of the log.
   */
  const enqueue = (orgId: OrgId, selected: ReadonlyArray<LoggedEvent>) =>
    Effect.gen(function*() {
      const types = yield* repo.subscribedTypes(orgId)
      const events = selected.flatMap(({ audience, delivered, position }): Array<WebhookEvent> =>
        types.has(delivered.event.type)
          ? [{
            position,
            type: delivered.event.type,
            roomId: audience.roomId,
            orgWide: audience.orgWide,
            payload: payloadOf(delivered)
          }]
          : []
      )
      return yield* repo.enqueue(orgId, events, new Date(yield* Clock.currentTimeMillis))
    })

  return yield* LogOutbox.run<LoggedEvent, never>({
    cursor: CURSOR,
    name: "the webhooks outbox",
    // What an endpoint may receive: subscribable types, org-wide or of a room (public ones only: troupe_webhook_enqueue).
    select: (logged) =>
      isWebhookEventType(logged.delivered.event.type) && (logged.audience.orgWide || logged.audience.roomId !== null)
        ? logged
        : undefined,
    enqueue,
    sendDue,
    prune: Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => repo.prune(new Date(now - Duration.toMillis(retention)))
    )
  })
})

/** The webhooks outbox as a cluster singleton. */
export const layer = Singleton.make("GatewayWebhooks", run).pipe(
  Layer.provide([WebhookRepo.Default, ChannelKey.Default])
)
