/**
 * Outbound webhooks' records: an org's endpoints (URL, event types, the
 * signing secret as the caller encrypted it) and the outbox of deliveries,
 * one per event and endpoint. Times of the outbox are the caller's clock, so
 * the sender's schedule can be driven in tests. Who may change what is the
 * caller's decision.
 */
import { SqlClient } from "@effect/sql"
import { NotFound } from "@troupe/domain/Errors"
import { OrgId } from "@troupe/domain/Ids"
import {
  isWebhookEventType,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointId,
  type WebhookEventType,
  WebhookHealth
} from "@troupe/domain/Webhook"
import { Effect, Option, Schema, Struct } from "effect"
import * as Rows from "./internal/Rows.js"
import { orgScope } from "./OrgScope.js"

/** A new endpoint, its secret already encrypted. */
export interface NewWebhookEndpoint {
  readonly id: WebhookEndpointId
  readonly url: string
  readonly eventTypes: ReadonlyArray<WebhookEventType>
  readonly enabled: boolean
  readonly secret: Uint8Array
  readonly createdBy: string
}

/** Changes to an endpoint: only the fields given change. */
export interface WebhookEndpointChanges {
  readonly url?: string | undefined
  readonly eventTypes?: ReadonlyArray<WebhookEventType> | undefined
  readonly enabled?: boolean | undefined
}

/** An event to queue for the org's endpoints subscribed to its type. */
export interface WebhookEvent {
  readonly position: number
  readonly type: string
  /** The room the event belongs to (queued only while the room is public), or null. */
  readonly roomId: string | null
  /** Whether every non-guest member of the org sees it. */
  readonly orgWide: boolean
  /** The body every delivery of it carries. */
  readonly payload: string
}

/** A delivery to send now. */
export interface DueWebhook {
  readonly id: string
  readonly orgId: OrgId
  readonly endpointId: WebhookEndpointId
  readonly url: string
  readonly secret: Uint8Array
  /** The secret before the last rotation, while it still signs too. */
  readonly previousSecret: Uint8Array | null
  readonly payload: string
  readonly attempts: number
  readonly createdAt: Date
}

/** What an attempt came to: the HTTP status (null: no answer) and, unless it succeeded, why. */
export interface WebhookAttempt {
  readonly status: number | null
  readonly error: string | null
}

const EndpointRow = Schema.Struct({
  ...Struct.omit(WebhookEndpoint.fields, "health", "eventTypes"),
  eventTypes: Schema.Array(Schema.String),
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf,
  lastSuccessAt: Schema.NullOr(Schema.DateFromSelf),
  lastError: Schema.NullOr(Schema.String),
  lastErrorAt: Schema.NullOr(Schema.DateFromSelf),
  pending: Schema.NumberFromString
})
const DeliveryRow = Schema.Struct({
  ...WebhookDelivery.fields,
  eventId: Schema.String,
  nextAttemptAt: Schema.NullOr(Schema.DateFromSelf),
  createdAt: Schema.DateFromSelf,
  sentAt: Schema.NullOr(Schema.DateFromSelf)
})
const DueRow = Schema.Struct({
  id: Schema.String,
  orgId: OrgId,
  endpointId: WebhookEndpointId,
  url: Schema.String,
  secret: Schema.Uint8ArrayFromSelf,
  previousSecret: Schema.NullOr(Schema.Uint8ArrayFromSelf),
  payload: Schema.String,
  attempts: Schema.Number,
  createdAt: Schema.DateFromSelf
})
const OrgRow = Schema.Struct({ orgId: OrgId })
const TypeRow = Schema.Struct({ eventType: Schema.String })
const Queued = Schema.Struct({ queued: Schema.Number })
const Pruned = Schema.Struct({ deleted: Schema.NumberFromString })

/** The longest error text kept on a delivery or an endpoint. */
const MAX_ERROR = 500

/** Outbound webhook endpoints and their deliveries. */
export class WebhookRepo extends Effect.Service<WebhookRepo>()("@troupe/store/WebhookRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)

    const selectEndpoint = sql`
      SELECT w.id, w.url, w.event_types, w.enabled, w.created_at, w.updated_at, w.last_success_at, w.last_error,
        w.last_error_at,
        (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 'pending') AS pending
      FROM webhook_endpoints w`

    /** A row as the API shows it (event types no longer subscribable are left out). */
    const toEndpoint = (row: typeof EndpointRow.Type) =>
      new WebhookEndpoint({
        id: row.id,
        url: row.url,
        eventTypes: row.eventTypes.filter(isWebhookEventType),
        enabled: row.enabled,
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
        health: new WebhookHealth({
          lastSuccessAt: row.lastSuccessAt,
          lastError: row.lastError,
          lastErrorAt: row.lastErrorAt,
          pending: row.pending
        }, true)
      }, true)

    const load = (id: WebhookEndpointId) =>
      sql`${selectEndpoint} WHERE w.id = ${id}`.pipe(
        Rows.first("webhook endpoint", EndpointRow),
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(NotFound.of("webhook endpoint", id)),
          onSome: (row) => Effect.succeed(toEndpoint(row))
        }))
      )

    const create = Effect.fn("WebhookRepo.create")(function*(orgId: OrgId, input: NewWebhookEndpoint) {
      return yield* withOrg(orgId)(Effect.zipRight(
        sql`INSERT INTO webhook_endpoints (id, org_id, url, event_types, enabled, secret, created_by)
          VALUES (${input.id}, ${orgId}, ${input.url}, ${[...input.eventTypes]}::text[], ${input.enabled},
            ${input.secret}, ${input.createdBy})`,
        load(input.id)
      ))
    })

    const list = Effect.fn("WebhookRepo.list")(function*(orgId: OrgId) {
      return yield* withOrg(orgId)(
        sql`${selectEndpoint} ORDER BY w.created_at, w.id`.pipe(
          Rows.all("webhook endpoint", EndpointRow),
          Effect.map((rows) => rows.map(toEndpoint))
        )
      )
    })

    const get = Effect.fn("WebhookRepo.get")(function*(orgId: OrgId, id: WebhookEndpointId) {
      return yield* withOrg(orgId)(load(id))
    })

    const update = Effect.fn("WebhookRepo.update")(
      function*(orgId: OrgId, id: WebhookEndpointId, changes: WebhookEndpointChanges) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const types = changes.eventTypes === undefined ? null : [...changes.eventTypes]
          const updated = yield* sql`
            UPDATE webhook_endpoints SET
              url = COALESCE(${changes.url ?? null}, url),
              event_types = COALESCE(${types}::text[], event_types),
              enabled = COALESCE(${changes.enabled ?? null}::boolean, enabled),
              updated_at = now()
            WHERE id = ${id} RETURNING id`
          if (updated.length === 0) return yield* NotFound.of("webhook endpoint", id)
          return yield* load(id)
        }))
      }
    )

    /**
     * Replaces the endpoint's secret with `secret`; the one it replaces goes
     * on signing too until `previousUntil`.
     */
    const rotate = Effect.fn("WebhookRepo.rotate")(
      function*(orgId: OrgId, id: WebhookEndpointId, secret: Uint8Array, previousUntil: Date) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const updated = yield* sql`
            UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ${previousUntil},
              secret = ${secret}, updated_at = now()
            WHERE id = ${id} RETURNING id`
          if (updated.length === 0) return yield* NotFound.of("webhook endpoint", id)
          return yield* load(id)
        }))
      }
    )

    /** Removes the endpoint and its deliveries. */
    const remove = Effect.fn("WebhookRepo.remove")(function*(orgId: OrgId, id: WebhookEndpointId) {
      const deleted = yield* withOrg(orgId)(sql`DELETE FROM webhook_endpoints WHERE id = ${id} RETURNING id`)
      if (deleted.length === 0) return yield* NotFound.of("webhook endpoint", id)
    })

    /** The endpoint's latest deliveries, newest first. */
    const deliveries = Effect.fn("WebhookRepo.deliveries")(
      function*(orgId: OrgId, id: WebhookEndpointId, limit: number) {
        const rows = yield* withOrg(orgId)(Effect.zipRight(
          load(id),
          sql`SELECT id, position::text AS event_id, event_type, status, attempts, last_status, last_error,
              CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at, created_at, sent_at
            FROM webhook_deliveries WHERE endpoint_id = ${id}
            ORDER BY created_at DESC, position DESC LIMIT ${limit}`.pipe(Rows.all("webhook delivery", DeliveryRow))
        ))
        return rows.map((row) => new WebhookDelivery(row, true))
      }
    )

    /**
     * Queues events of one org for its enabled endpoints subscribed to their
     * types (room events only while the room is public); an event queued for
     * an endpoint before is not queued again. One statement for the lot.
     */
    const enqueue = Effect.fn("WebhookRepo.enqueue")(
      function*(orgId: OrgId, events: ReadonlyArray<WebhookEvent>, now: Date) {
        if (events.length === 0) return 0
        const document = JSON.stringify(events.map((e) => ({
          position: e.position,
          type: e.type,
          room_id: e.roomId,
          org_wide: e.orgWide,
          payload: e.payload
        })))
        const { queued } = yield* sql`SELECT troupe_webhook_enqueue(${orgId}, ${document}::jsonb, ${now}) AS queued`
          .pipe(Rows.one("queued webhooks", Queued))
        return queued
      }
    )

    /** The event types the org's enabled endpoints subscribe to (one statement, no transaction). */
    const subscribedTypes = Effect.fn("WebhookRepo.subscribedTypes")(function*(orgId: OrgId) {
      const rows = yield* sql`SELECT event_type FROM troupe_webhook_types(${orgId})`.pipe(
        Rows.all("subscribed type", TypeRow)
      )
      return new Set(rows.map((r) => r.eventType))
    })

    /** Orgs with deliveries due at `now`. */
    const orgsDue = Effect.fn("WebhookRepo.orgsDue")(function*(now: Date, limit: number) {
      const rows = yield* sql`SELECT org_id FROM troupe_webhook_orgs_due(${now}, ${limit})`.pipe(
        Rows.all("due org", OrgRow)
      )
      return rows.map((r) => r.orgId)
    })

    /** An org's deliveries due at `now` to enabled endpoints, oldest event first. */
    const due = Effect.fn("WebhookRepo.due")(function*(orgId: OrgId, now: Date, limit: number) {
      const rows: ReadonlyArray<DueWebhook> = yield* withOrg(orgId)(
        sql`SELECT d.id, d.org_id, d.endpoint_id, w.url, w.secret,
            CASE WHEN w.previous_until > ${now} THEN w.previous_secret END AS previous_secret,
            d.payload, d.attempts, d.created_at
          FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
          WHERE d.status = 'pending' AND d.next_attempt_at <= ${now} AND w.enabled
          ORDER BY d.position, d.id LIMIT ${limit}`.pipe(Rows.all("webhook delivery", DueRow))
      )
      return rows
    })

    /** A delivery the endpoint accepted (2xx). */
    const sent = Effect.fn("WebhookRepo.sent")(function*(delivery: DueWebhook, status: number, now: Date) {
      yield* withOrg(delivery.orgId)(Effect.zipRight(
        sql`UPDATE webhook_deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ${now},
          last_status = ${status}, last_error = NULL WHERE id = ${delivery.id}`,
        sql`UPDATE webhook_endpoints SET last_success_at = ${now} WHERE id = ${delivery.endpointId}`
      ))
    })

    /**
     * An attempt that did not succeed: tried again at `retryAt`, or failed for
     * good when `retryAt` is null.
     */
    const attempted = Effect.fn("WebhookRepo.attempted")(
      function*(delivery: DueWebhook, attempt: WebhookAttempt, retryAt: Date | null, now: Date) {
        const error = (attempt.error ?? "").slice(0, MAX_ERROR)
        yield* withOrg(delivery.orgId)(Effect.zipRight(
          sql`UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ${attempt.status},
            last_error = ${error}, status = ${retryAt === null ? "failed" : "pending"},
            next_attempt_at = COALESCE(${retryAt}, next_attempt_at) WHERE id = ${delivery.id}`,
          sql`UPDATE webhook_endpoints SET last_error = ${error}, last_error_at = ${now}
            WHERE id = ${delivery.endpointId}`
        ))
      }
    )

    /** Forgets deliveries made before `before`, in every org; returns how many rows went. */
    const prune = Effect.fn("WebhookRepo.prune")(function*(before: Date) {
      const { deleted } = yield* sql`SELECT deleted FROM troupe_webhook_prune(${before})`.pipe(
        Rows.one("pruned count", Pruned)
      )
      return deleted
    })

    return {
      create,
      list,
      get,
      update,
      rotate,
      remove,
      deliveries,
      enqueue,
      subscribedTypes,
      orgsDue,
      due,
      sent,
      attempted,
      prune
    } as const
  })
}) {}
