/**
 * Outbound webhooks: an org's admins subscribe a URL (an endpoint) to event
 * types; each event of those types that every non-guest member of the org may
 * read (org-wide events and events of public rooms) is delivered to it,
 * signed with the Standard Webhooks scheme, with its status kept per delivery.
 * The signing secret is shown once, when it is made.
 */
import { Schema } from "effect"

/** A webhook endpoint's id. */
export const WebhookEndpointId = Schema.UUID.pipe(Schema.brand("WebhookEndpointId"))
/** A webhook endpoint's id. */
export type WebhookEndpointId = typeof WebhookEndpointId.Type

/**
 * The event types an endpoint may subscribe to: the durable events of the log
 * that an org admin may read. Ephemeral events (typing, presence, streamed
 * tokens) and events about one person (their settings, their credentials, a
 * notice for them) are never delivered.
 */
export const WebhookEventType = Schema.Literal(
  "message.created",
  "message.updated",
  "message.deleted",
  "reaction.changed",
  "room.created",
  "room.updated",
  "room.archived",
  "member.joined",
  "member.left",
  "org.updated",
  "org.member.joined",
  "org.member.updated",
  "org.member.left",
  "teammate.updated",
  "run.started",
  "run.completed",
  "run.failed",
  "pin.created",
  "pin.updated",
  "pin.deleted",
  "file.created",
  "file.deleted",
  "task.created",
  "task.updated"
)
/** An event type an endpoint may subscribe to. */
export type WebhookEventType = typeof WebhookEventType.Type

/** Whether an event type may be delivered to endpoints. */
export const isWebhookEventType = Schema.is(WebhookEventType)

/** The longest endpoint URL accepted. */
export const MAX_WEBHOOK_URL = 2048

/**
 * An endpoint's URL as the contract takes it: a string of at most
 * `MAX_WEBHOOK_URL` characters. What it may name (http or https, a host, no
 * credentials, no private address) the gateway decides: a URL it refuses is
 * 422 (`InvalidInput`).
 */
export const WebhookUrl = Schema.String.pipe(Schema.maxLength(MAX_WEBHOOK_URL))

/** The event types of an endpoint: at least one, each once. */
const EventTypes = Schema.Array(WebhookEventType).pipe(
  Schema.minItems(1),
  Schema.filter((types) => new Set(types).size === types.length || "expected each event type once")
)

/** Subscribe a URL to event types (enabled unless `enabled` is false). */
export class CreateWebhookRequest extends Schema.Class<CreateWebhookRequest>("CreateWebhookRequest")({
  url: WebhookUrl,
  eventTypes: EventTypes,
  enabled: Schema.optional(Schema.Boolean)
}) {}

/** Change an endpoint's URL, event types or whether it is enabled: only the fields given change. */
export class UpdateWebhookRequest extends Schema.Class<UpdateWebhookRequest>("UpdateWebhookRequest")({
  url: Schema.optional(WebhookUrl),
  eventTypes: Schema.optional(EventTypes),
  enabled: Schema.optional(Schema.Boolean)
}) {}

/** How an endpoint is doing. */
export class WebhookHealth extends Schema.Class<WebhookHealth>("WebhookHealth")({
  lastSuccessAt: Schema.NullOr(Schema.Date),
  lastError: Schema.NullOr(Schema.String),
  lastErrorAt: Schema.NullOr(Schema.Date),
  /** Deliveries waiting to be sent (or retried). */
  pending: Schema.Number
}) {}

/** An endpoint as the API shows it: never its secret. */
export class WebhookEndpoint extends Schema.Class<WebhookEndpoint>("WebhookEndpoint")({
  id: WebhookEndpointId,
  url: Schema.String,
  eventTypes: Schema.Array(WebhookEventType),
  enabled: Schema.Boolean,
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
  health: WebhookHealth
}) {}

/**
 * An endpoint with its signing secret (`whsec_` and base64), returned once,
 * when the endpoint is made and when its secret is rotated.
 */
export class WebhookWithSecret extends Schema.Class<WebhookWithSecret>("WebhookWithSecret")({
  endpoint: WebhookEndpoint,
  secret: Schema.String
}) {}

/** One event sent (or being sent) to an endpoint. */
export class WebhookDelivery extends Schema.Class<WebhookDelivery>("WebhookDelivery")({
  /** The `webhook-id` header: the same on every attempt. */
  id: Schema.UUID,
  /** The event's id in the event stream. */
  eventId: Schema.String,
  eventType: Schema.String,
  status: Schema.Literal("pending", "sent", "failed"),
  attempts: Schema.Number,
  /** The HTTP status of the last attempt (null: none yet, or no answer). */
  lastStatus: Schema.NullOr(Schema.Number),
  lastError: Schema.NullOr(Schema.String),
  /** When the next attempt is due (pending deliveries only). */
  nextAttemptAt: Schema.NullOr(Schema.Date),
  createdAt: Schema.Date,
  sentAt: Schema.NullOr(Schema.Date)
}) {}
