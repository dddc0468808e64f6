/**
 * Sends a room message to a Telegram chat: `POST {TELEGRAM_API_URL}/bot{token}/sendMessage`
 * with the platform's `HttpClient`, and its edits and deletion with
 * `editMessageText` and `deleteMessage`. A bot framework would add nothing the
 * outbox needs. The token is part of the URL, so no error text here ever
 * carries the URL.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Config, Duration, Effect, Option, Schema } from "effect"
import { PermanentFailure, RateLimitedByPlatform, type SendError, TransientFailure } from "./Delivery.js"

/** The Bot API root (`TELEGRAM_API_URL`, default `https://api.telegram.org`). */
export const TelegramApiUrl = Config.string("TELEGRAM_API_URL").pipe(
  Config.withDefault("https://api.telegram.org"),
  Config.map((url) => url.replace(/\/+$/, ""))
)

/** How long one call may take before it counts as a transient failure. */
const TIMEOUT = Duration.seconds(10)

/** What the Bot API answers. */
const Answer = Schema.Struct({
  ok: Schema.Boolean,
  /** The message sent or edited; `true` for a deletion. */
  result: Schema.optional(Schema.Union(Schema.Struct({ message_id: Schema.Number }), Schema.Boolean)),
  error_code: Schema.optional(Schema.Number),
  description: Schema.optional(Schema.String),
  parameters: Schema.optional(Schema.Struct({ retry_after: Schema.optional(Schema.Number) }))
})
const decodeAnswer = Schema.decodeUnknownOption(Answer)

/** A sender of messages to Telegram chats. */
export const make = Effect.gen(function*() {
  const root = yield* TelegramApiUrl
  const client = yield* HttpClient.HttpClient

  /** Calls the Bot API's `method` with `body`; the `result` of a successful answer's `message_id`, if any. */
  const call = (token: string, method: string, body: object): Effect.Effect<string | null, SendError> =>
    Effect.gen(function*() {
      const response = yield* client.execute(
        HttpClientRequest.post(`${root}/bot${token}/${method}`).pipe(HttpClientRequest.bodyUnsafeJson(body))
      )
      const json = yield* Effect.orElseSucceed(response.json, (): unknown => null)
      const answer = decodeAnswer(json)
      const status = response.status
      if (status === 200 && Option.isSome(answer) && answer.value.ok) {
        const result = answer.value.result
        return typeof result === "object" ? String(result.message_id) : null
      }
      const description = Option.flatMap(answer, (a) => Option.fromNullable(a.description))
      // An edit to the text the message has already: done.
      if (Option.exists(description, (d) => d.includes("message is not modified"))) return null
      const reason = `telegram: ${status}${Option.match(description, { onNone: () => "", onSome: (d) => ` ${d}` })}`
      if (status === 429) {
        const seconds = Option.getOrUndefined(Option.flatMap(answer, (a) =>
          Option.fromNullable(a.parameters?.retry_after)))
          ?? Number(response.headers["retry-after"] ?? "1")
        return yield* new RateLimitedByPlatform({ retryAfterMs: (Number.isFinite(seconds) ? seconds : 1) * 1000 })
      }
      if (status >= 500 || status === 408) return yield* new TransientFailure({ reason })
      return yield* new PermanentFailure({ reason })
    }).pipe(
      Effect.timeoutFail({
        duration: TIMEOUT,
        onTimeout: () => new TransientFailure({ reason: "telegram: timed out" })
      }),
      Effect.catchTags({
        RequestError: () => Effect.fail(new TransientFailure({ reason: "telegram: the Bot API could not be reached" })),
        ResponseError: () =>
          Effect.fail(new TransientFailure({ reason: "telegram: the Bot API's answer could not be read" }))
      }),
      Effect.scoped
    )

  /** A Telegram message id, as the Bot API takes it. */
  const messageId = (id: string) => /^\d+$/.test(id) ? Number(id) : id

  return {
    /** Sends `text` to `chatId`, as a reply to `replyTo` if given; the message's id is its id. */
    post: (token: string, chatId: string, text: string, replyTo: string | null) =>
      call(token, "sendMessage", {
        chat_id: chatId,
        text,
        ...(replyTo === null || !/^\d+$/.test(replyTo)
          ? {}
          : { reply_parameters: { message_id: Number(replyTo), allow_sending_without_reply: true } })
      }),
    /** Replaces the text of message `id` in `chatId` (`editMessageText`). */
    update: (token: string, chatId: string, id: string, text: string) =>
      Effect.as(call(token, "editMessageText", { chat_id: chatId, message_id: messageId(id), text }), null),
    /** Deletes message `id` in `chatId` (`deleteMessage`). */
    remove: (token: string, chatId: string, id: string) =>
      Effect.as(call(token, "deleteMessage", { chat_id: chatId, message_id: messageId(id) }), null)
  } as const
})
