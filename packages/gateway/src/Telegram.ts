/**
 * Telegram's side of the protocol: the webhook's secret token (Telegram has
 * no body signature; it sends the `secret_token` given to `setWebhook` in
 * `X-Telegram-Bot-Api-Secret-Token`), and the updates the gateway reads.
 */
import { Unauthorized } from "@troupe/domain/Errors"
import { Effect, Schema } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import type { PlatformFile } from "./Media.js"

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

/** A file of a message (`document`, `audio`, `video`, `voice`): what `getFile` is asked about. */
const TelegramFile = Schema.Struct({
  file_id: Schema.String,
  file_name: Schema.optional(Schema.String),
  mime_type: Schema.optional(Schema.String),
  file_size: Schema.optional(Schema.Number)
})

/** One size of a photo. */
const PhotoSize = Schema.Struct({
  file_id: Schema.String,
  width: Schema.Number,
  height: Schema.Number,
  file_size: Schema.optional(Schema.Number)
})

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
  caption: Schema.optional(Schema.String),
  document: Schema.optional(TelegramFile),
  photo: Schema.optional(Schema.Array(PhotoSize)),
  audio: Schema.optional(TelegramFile),
  video: Schema.optional(TelegramFile),
  voice: Schema.optional(TelegramFile),
  reply_to_message: Schema.optional(Schema.Struct({ message_id: Schema.Number }))
})

/** An update delivered to the webhook. */
export const Update = Schema.Struct({
  update_id: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  message: Schema.optional(TelegramMessage)
})

/** The files a message carries: its document, audio, video or voice, and the largest size of its photo. */
const filesOf = (message: typeof TelegramMessage.Type): Array<PlatformFile> => {
  const id = message.message_id
  const file = (
    f: typeof TelegramFile.Type | undefined,
    name: string,
    mimetype: string
  ): Array<PlatformFile> =>
    f === undefined ? [] : [{
      name: f.file_name ?? name,
      mimetype: f.mime_type ?? mimetype,
      size: f.file_size ?? null,
      source: { platform: "telegram", fileId: f.file_id }
    }]
  const largest = (message.photo ?? []).reduce<typeof PhotoSize.Type | undefined>(
    (best, size) => best === undefined || size.width * size.height > best.width * best.height ? size : best,
    undefined
  )
  return [
    ...file(message.document, `document-${id}`, "application/octet-stream"),
    ...file(largest, `photo-${id}.jpg`, "image/jpeg"),
    ...file(message.audio, `audio-${id}.mp3`, "audio/mpeg"),
    ...file(message.video, `video-${id}.mp4`, "video/mp4"),
    ...file(message.voice, `voice-${id}.ogg`, "audio/ogg")
  ]
}

/**
 * A person's message (text, or files with their caption), as the gateway
 * takes it into a room: never a bot's (ours included).
 */
export const personMessage = (update: typeof Update.Type) => {
  const message = update.message
  const from = message?.from
  if (message === undefined || from === undefined || from.is_bot) return undefined
  const text = message.text ?? message.caption ?? ""
  const files = filesOf(message)
  if (text.trim() === "" && files.length === 0) return undefined
  const name = [from.first_name, from.last_name].filter((part) => part !== undefined && part !== "").join(" ") ||
    from.username || String(from.id)
  return {
    channel: String(message.chat.id),
    user: String(from.id),
    text,
    name,
    externalId: String(message.message_id),
    replyTo: message.reply_to_message === undefined ? null : String(message.reply_to_message.message_id),
    files
  }
}
