/**
 * Channel accounts of the messaging gateway (a Slack workspace's bot, a
 * Telegram bot), bridges from a platform channel to a room, health and the
 * operator's tail. Credentials go in, never out: responses carry hints only.
 */
import { Schema } from "effect"
import { MessageId, RoomId } from "./Ids.js"

/** A channel account's id. */
export const ChannelAccountId = Schema.UUID.pipe(Schema.brand("ChannelAccountId"))
/** A channel account's id. */
export type ChannelAccountId = typeof ChannelAccountId.Type

/** A bridge's id (a platform channel or chat joined to a room). */
export const BridgeId = Schema.UUID.pipe(Schema.brand("BridgeId"))
/** A bridge's id (a platform channel or chat joined to a room). */
export type BridgeId = typeof BridgeId.Type

/** The platforms the gateway speaks (`webhook`: any system that signs its deliveries as Standard Webhooks do). */
export const ChannelKind = Schema.Literal("slack", "telegram", "webhook")
/** The platforms the gateway speaks. */
export type ChannelKind = typeof ChannelKind.Type

const Name = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100))
const Secret = Schema.String.pipe(Schema.minLength(8), Schema.maxLength(512))
/** Telegram's `secret_token`: 8 to 256 letters, digits, `_` and `-` (Telegram allows 1 to 256; we want 8 at least). */
const WebhookSecret = Schema.String.pipe(Schema.minLength(8), Schema.maxLength(256), Schema.pattern(/^[A-Za-z0-9_-]+$/))
/** A platform id (a Slack user or channel id, a Telegram chat id). */
const PlatformId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128), Schema.pattern(/^[A-Za-z0-9_.:-]+$/))

/** Connect a Slack workspace: its bot token (`xoxb-…`) and the app's signing secret. */
export class CreateSlackChannel extends Schema.Class<CreateSlackChannel>("CreateSlackChannel")({
  kind: Schema.Literal("slack"),
  name: Name,
  botToken: Secret,
  signingSecret: Secret,
  /** The bot's own Slack user id: its messages are never echoed into rooms. */
  botUserId: Schema.optional(PlatformId)
}) {}

/** Connect a Telegram bot: its token and the secret Telegram sends with every webhook call. */
export class CreateTelegramChannel extends Schema.Class<CreateTelegramChannel>("CreateTelegramChannel")({
  kind: Schema.Literal("telegram"),
  name: Name,
  botToken: Secret,
  webhookSecret: WebhookSecret
}) {}

/**
 * A Standard Webhooks signing secret: `whsec_` and at least 24 random bytes
 * in base64 (make one with `echo whsec_$(openssl rand -base64 32)`).
 */
export const StandardWebhookSecret = Schema.String.pipe(
  Schema.maxLength(512),
  Schema.pattern(/^whsec_(?:[A-Za-z0-9+/]{4}){8,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, {
    message: () => "expected whsec_ followed by at least 24 bytes in base64"
  })
)

/**
 * Connect any system that sends Standard Webhooks: the secret it signs its
 * deliveries with. Its deliveries come in; nothing goes back out through it
 * (outbound webhooks do that).
 */
export class CreateWebhookChannel extends Schema.Class<CreateWebhookChannel>("CreateWebhookChannel")({
  kind: Schema.Literal("webhook"),
  name: Name,
  signingSecret: StandardWebhookSecret
}) {}

/** A new channel account, by kind. */
export const CreateChannelRequest = Schema.Union(CreateSlackChannel, CreateTelegramChannel, CreateWebhookChannel)
/** A new channel account, by kind. */
export type CreateChannelRequest = typeof CreateChannelRequest.Type

/**
 * Rename, enable or disable an account, or rotate its secrets: only the
 * fields given change; a secret of another kind of account is refused (422).
 */
export class UpdateChannelRequest extends Schema.Class<UpdateChannelRequest>("UpdateChannelRequest")({
  name: Schema.optional(Name),
  enabled: Schema.optional(Schema.Boolean),
  botToken: Schema.optional(Secret),
  signingSecret: Schema.optional(Secret),
  webhookSecret: Schema.optional(WebhookSecret),
  botUserId: Schema.optional(PlatformId)
}) {}

/** How an account is doing. */
export class ChannelHealth extends Schema.Class<ChannelHealth>("ChannelHealth")({
  lastInboundAt: Schema.NullOr(Schema.Date),
  lastOutboundAt: Schema.NullOr(Schema.Date),
  lastError: Schema.NullOr(Schema.String),
  lastErrorAt: Schema.NullOr(Schema.Date),
  /** Messages waiting to be sent. */
  queueDepth: Schema.Number
}) {}

/**
 * A channel account as the API shows it: no credentials, only the bot token's
 * (a webhook account: the signing secret's) last four characters.
 */
export class ChannelAccount extends Schema.Class<ChannelAccount>("ChannelAccount")({
  id: ChannelAccountId,
  kind: ChannelKind,
  name: Schema.String,
  enabled: Schema.Boolean,
  /** The bot token's last four characters, to tell tokens apart. */
  tokenHint: Schema.String,
  botUserId: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
  health: ChannelHealth
}) {}

/** Join a platform channel (a Slack channel id, a Telegram chat id) to a room of the org. */
export class CreateBridgeRequest extends Schema.Class<CreateBridgeRequest>("CreateBridgeRequest")({
  externalChannel: PlatformId,
  roomId: RoomId
}) {}

/** A platform channel joined to a room: what is said in one appears in the other. */
export class Bridge extends Schema.Class<Bridge>("Bridge")({
  id: BridgeId,
  accountId: ChannelAccountId,
  externalChannel: Schema.String,
  roomId: RoomId,
  createdAt: Schema.Date
}) {}

/** One message through an account, in or out, for the operator's tail. */
export class ChannelTraffic extends Schema.Class<ChannelTraffic>("ChannelTraffic")({
  direction: Schema.Literal("inbound", "outbound"),
  externalChannel: Schema.String,
  messageId: Schema.NullOr(MessageId),
  /** A new message (`post`, in or out), or an edit (`update`) or a deletion (`delete`) sent out. */
  action: Schema.Literal("post", "update", "delete"),
  /** Inbound: `received`; outbound: `pending`, `sent` or `failed`. */
  status: Schema.Literal("received", "pending", "sent", "failed"),
  attempts: Schema.Number,
  error: Schema.NullOr(Schema.String),
  at: Schema.Date
}) {}

/** What a webhook is answered: Slack's URL check gets its challenge back. */
export class GatewayAck extends Schema.Class<GatewayAck>("GatewayAck")({
  ok: Schema.Boolean,
  challenge: Schema.optional(Schema.String),
  /** True when this delivery was seen before (a retry): acknowledged, not stored again. */
  duplicate: Schema.optional(Schema.Boolean)
}) {}
