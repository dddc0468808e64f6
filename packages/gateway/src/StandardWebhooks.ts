/**
 * The Standard Webhooks scheme, through the `standardwebhooks` package: the
 * `webhook-id`, `webhook-timestamp` and `webhook-signature` headers (an
 * HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret, compared in
 * constant time, the timestamp within 5 minutes), secrets as `whsec_` and
 * base64. One home for signing what goes out and checking what comes in.
 */
import { MalformedRequest, Unauthorized } from "@troupe/domain/Errors"
import { Effect, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { Webhook } from "standardwebhooks"

/** A new signing secret: 32 random bytes, as Standard Webhooks writes them. */
export const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`

/** The headers of one signed delivery. */
export interface SignedHeaders {
  readonly "webhook-id": string
  readonly "webhook-timestamp": string
  readonly "webhook-signature": string
}

/**
 * Signs `body` as the delivery `id` sent at `at` (the timestamp is whole
 * seconds), once with each secret (the header lists the signatures
 * separated by spaces; a receiver accepts any that matches its secret).
 */
export const sign = (
  secrets: readonly [string, ...Array<string>],
  id: string,
  at: Date,
  body: string
): SignedHeaders => ({
  "webhook-id": id,
  "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
  "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(id, at, body)).join(" ")
})

/** The longest `webhook-id` taken in (it is stored as the delivery's idempotency key). */
export const MAX_ID_LENGTH = 256

/** The signature headers of a delivery as it arrived (any may be missing). */
export interface ReceivedHeaders {
  readonly id: string | undefined
  readonly timestamp: string | undefined
  readonly signature: string | undefined
}

/**
 * Checks a delivery's signature over its raw body and that its timestamp is
 * within 5 minutes of now; the delivery's id on success. Every way it can
 * fail (missing headers, a stale or future timestamp, no matching
 * signature) is `Unauthorized`, with the reason; an id over
 * `MAX_ID_LENGTH` is `MalformedRequest`.
 */
export const verify = (
  secret: string,
  headers: ReceivedHeaders,
  body: string
): Effect.Effect<string, Unauthorized | MalformedRequest> => {
  const { id, signature, timestamp } = headers
  if (id === undefined || timestamp === undefined || signature === undefined) {
    return Effect.fail(
      new Unauthorized({ message: "the delivery needs webhook-id, webhook-timestamp and webhook-signature headers" })
    )
  }
  if (id.length > MAX_ID_LENGTH) {
    return Effect.fail(new MalformedRequest({ message: `webhook-id is longer than ${MAX_ID_LENGTH} characters` }))
  }
  return Effect.try({
    try: () => {
      new Webhook(secret).verify(body, {
        "webhook-id": id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature
      }, { jsonParse: false })
      return id
    },
    catch: (e) =>
      new Unauthorized({
        message: `the webhook signature does not hold: ${e instanceof Error ? e.message : "unreadable headers"}`
      })
  })
}

/**
 * What a generic webhook account takes in: one message from an outside
 * system, for the room its `channel` is bridged to, authored by `user`.
 */
export const InboundMessage = Schema.Struct({
  /** The outside system's channel or conversation id; bridged to a room. */
  channel: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  user: Schema.Struct({
    /** The sender's id in the outside system: one external identity per org and id. */
    id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
    name: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100)))
  }),
  text: Schema.String.pipe(Schema.minLength(1)),
  /** The outside system's id of this message (so a later reply can name it). */
  messageId: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))),
  /** The id of the message it replies to: it joins that message's room thread. */
  replyTo: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)))
})
