/**
 * What is encrypted for each kind of channel account, and for each webhook
 * endpoint (see `ChannelKey`).
 */
import { Schema } from "effect"

/** A Slack account's secrets: the bot token for sending, the signing secret for checking webhooks. */
export class SlackCredentials extends Schema.Class<SlackCredentials>("SlackCredentials")({
  kind: Schema.Literal("slack"),
  botToken: Schema.String,
  signingSecret: Schema.String
}) {}

/** A Telegram account's secrets: the bot token for sending, the secret Telegram sends with each webhook. */
export class TelegramCredentials extends Schema.Class<TelegramCredentials>("TelegramCredentials")({
  kind: Schema.Literal("telegram"),
  botToken: Schema.String,
  webhookSecret: Schema.String
}) {}

/** A generic webhook account's secret: the Standard Webhooks secret its deliveries are signed with. */
export class WebhookCredentials extends Schema.Class<WebhookCredentials>("WebhookCredentials")({
  kind: Schema.Literal("webhook"),
  signingSecret: Schema.String
}) {}

/** A webhook endpoint's signing secret, as it is sealed (the endpoint id as associated data). */
export class EndpointSecret extends Schema.Class<EndpointSecret>("EndpointSecret")({
  secret: Schema.String
}) {}

/** Any account's secrets. */
export const Credentials = Schema.Union(SlackCredentials, TelegramCredentials, WebhookCredentials)
/** Any account's secrets. */
export type Credentials = typeof Credentials.Type

/** The last four characters of a token, to tell tokens apart without showing them. */
export const hintOf = (token: string) => `…${token.slice(-4)}`
