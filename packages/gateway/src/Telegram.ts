/**
 * Telegram's side of the protocol: the webhook's secret token (Telegram has
 * no body signature; it sends the `secret_token` given to `setWebhook` in
 * `X-Telegram-Bot-Api-Secret-Token`), and the updates the gateway reads.
 */
import { Unauthorized } from "@troupe/domain/Errors"
import { Effect, Schema } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (text: string) => createHash("sha256").update(text).digest()

/** Compares the header with the account's webhook secret in constant time (their digests, so lengths leak nothing). */
export const verifySecret = (webhookSecret: string, given: string | undefined): Effect.Effect<void, Unauthorized> =>
  given !== undefined && timingSafeEqual(digest(given), digest(webhookSecret))
    ? Effect.void
    : Effect.fail(
      new Unauthorized({
        message: "X-Telegram-Bot-Api-Secret-Token is missing or does not match the account's webhook secret"
      })
    )

/** The fields of a message the gateway uses. */
export const TelegramMessage = Schema.Struct({
  message_id: Schema.Number,
  from: Schema.optional(Schema.Struct({
    id: Schema.Number,
    is_bot: Schema.Boolean,
    first_name: Schema.String,
    last_name: Schema.optional(Schema.String),
    username: Schema.optional(Schema.String)
  })),
  chat: Schema.Struct({ id: Schema.Number }),
  text: Schema.optional(Schema.String),
  reply_to_message: Schema.optional(Schema.Struct({ message_id: Schema.Number }))
})

/** An update delivered to the webhook. */
export const Update = Schema.Struct({
  update_id: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  message: Schema.optional(TelegramMessage)
})

/** A person's text message, as the gateway takes it into a room: never a bot's (ours included). */
export const personMessage = (update: typeof Update.Type) => {
  const message = update.message
  const from = message?.from
  if (message === undefined || from === undefined || from.is_bot) return undefined
  const text = message.text
  if (text === undefined || text.trim() === "") return undefined
  const name = [from.first_name, from.last_name].filter((part) => part !== undefined && part !== "").join(" ") ||
    from.username || String(from.id)
  return {
    channel: String(message.chat.id),
    user: String(from.id),
    text,
    name,
    externalId: String(message.message_id),
    replyTo: message.reply_to_message === undefined ? null : String(message.reply_to_message.message_id)
  }
}
