/**
 * Slack's side of the protocol: checking an Events API delivery's `v0`
 * signature over its raw body, and the deliveries the gateway reads.
 */
import { Unauthorized } from "@troupe/domain/Errors"
import { Effect, Schema } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"
import type { PlatformFile } from "./Media.js"

/** How far a delivery's timestamp may be from now, in seconds (Slack's own advice: 5 minutes). */
export const SLACK_WINDOW_SECONDS = 300

/**
 * Checks `X-Slack-Signature` (`v0=` and the hex HMAC-SHA256 of
 * `v0:{timestamp}:{raw body}` under the signing secret) in constant time, and
 * that `X-Slack-Request-Timestamp` is within the window of `nowSeconds`.
 */
export const verifySignature = (
  signingSecret: string,
  headers: { readonly timestamp: string | undefined; readonly signature: string | undefined },
  body: Uint8Array,
  nowSeconds: number
): Effect.Effect<void, Unauthorized> => {
  const { signature, timestamp } = headers
  if (timestamp === undefined || signature === undefined) {
    return Effect.fail(
      new Unauthorized({ message: "the delivery has no X-Slack-Signature and X-Slack-Request-Timestamp" })
    )
  }
  const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : NaN
  if (!Number.isFinite(seconds) || Math.abs(nowSeconds - seconds) > SLACK_WINDOW_SECONDS) {
    return Effect.fail(
      new Unauthorized({ message: "X-Slack-Request-Timestamp is not within 5 minutes of the server's clock" })
    )
  }
  const expected = Buffer.from(
    "v0=" +
      createHmac("sha256", signingSecret).update(`v0:${timestamp}:`).update(body).digest("hex")
  )
  const given = Buffer.from(signature)
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? Effect.void
    : Effect.fail(new Unauthorized({ message: "X-Slack-Signature does not match the account's signing secret" }))
}

/** Slack's check of a new Request URL. */
export const UrlVerification = Schema.Struct({ type: Schema.Literal("url_verification"), challenge: Schema.String })

/** A file shared in a message, as much of it as the gateway uses. */
export const SlackFile = Schema.Struct({
  name: Schema.optional(Schema.String),
  title: Schema.optional(Schema.String),
  mimetype: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Number),
  /** Absent for files Slack keeps back (hidden by a plan's limit, deleted, external). */
  url_private_download: Schema.optional(Schema.String)
})

/** The fields of a `message` event the gateway uses. */
export const MessageEvent = Schema.Struct({
  type: Schema.String,
  subtype: Schema.optional(Schema.String),
  channel: Schema.optional(Schema.String),
  user: Schema.optional(Schema.String),
  bot_id: Schema.optional(Schema.String),
  text: Schema.optional(Schema.String),
  ts: Schema.optional(Schema.String),
  thread_ts: Schema.optional(Schema.String),
  files: Schema.optional(Schema.Array(SlackFile)),
  user_profile: Schema.optional(Schema.Struct({
    display_name: Schema.optional(Schema.String),
    real_name: Schema.optional(Schema.String)
  }))
})

/** An Events API delivery of one event. */
export const EventCallback = Schema.Struct({
  type: Schema.Literal("event_callback"),
  event_id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  event: MessageEvent
})

/** Any other delivery (an `app_rate_limited` notice, say): acknowledged, nothing done. */
export const OtherDelivery = Schema.Struct({ type: Schema.String })

/** What Slack delivers. */
export const Delivery = Schema.Union(UrlVerification, EventCallback, OtherDelivery)

/** The subtypes of a person's message: a thread broadcast, a message sharing files. */
const personSubtypes = new Set(["thread_broadcast", "file_share"])

/**
 * A person's message in a channel, as the gateway takes it into a room:
 * plain messages, thread broadcasts and file shares from a user (text, files
 * or both), never a bot's (ours or another's), never edits, deletions or
 * joins. Its `name` is the event's `user_profile` name, undefined when the
 * event carries none.
 */
export const personMessage = (event: typeof MessageEvent.Type, botUserId: string | null) => {
  if (event.type !== "message" || event.bot_id !== undefined) return undefined
  if (event.subtype !== undefined && !personSubtypes.has(event.subtype)) return undefined
  const { channel, user } = event
  const text = event.text ?? ""
  const files = (event.files ?? []).map((file): PlatformFile => ({
    name: file.name ?? file.title ?? "file",
    mimetype: file.mimetype ?? "application/octet-stream",
    size: file.size ?? null,
    source: { platform: "slack", url: file.url_private_download ?? null }
  }))
  if (channel === undefined || user === undefined || (text.trim() === "" && files.length === 0)) return undefined
  if (user === botUserId) return undefined
  // Without a profile in the event the name is looked up (SlackUsers).
  const name = event.user_profile?.display_name || event.user_profile?.real_name || undefined
  return {
    channel,
    user,
    text: unescapeText(text),
    name,
    externalId: event.ts ?? null,
    replyTo: event.thread_ts ?? null,
    files
  }
}

/**
 * Slack's text as people wrote it: Slack escapes `&`, `<` and `>` in message
 * text (and marks links and mentions with `<…>`, kept as they are).
 */
export const unescapeText = (text: string) => text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")

/** Text for Slack: `&`, `<` and `>` escaped, so room text never turns into Slack's links or mentions. */
export const escapeText = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
