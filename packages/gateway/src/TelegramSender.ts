/**
 * Sends a room message to a Telegram chat: `POST {TELEGRAM_API_URL}/bot{token}/sendMessage`
 * with the platform's `HttpClient`. A bot framework would add nothing the
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
  result: Schema.optional(Schema.Struct({ message_id: Schema.Number })),
  error_code: Schema.optional(Schema.Number),
  description: Schema.optional(Schema.String),
  parameters: Schema.optional(Schema.Struct({ retry_after: Schema.optional(Schema.Number) }))
})
const decodeAnswer = Schema.decodeUnknownOption(Answer)

/** A sender of messages to Telegram chats. */
export const make = Effect.gen(function*() {
  const root = yield* TelegramApiUrl
  const client = yield* HttpClient.HttpClient
  /** Sends `text` to `chatId`, as a reply to `replyTo` if given; the message's id is its id. */
  return (
    token: string,
    chatId: string,
    text: string,
    replyTo: string | null
  ): Effect.Effect<string | null, SendError> =>
    Effect.gen(function*() {
      const reply = replyTo === null || !/^\d+$/.test(replyTo)
        ? {}
        : { reply_parameters: { message_id: Number(replyTo), allow_sending_without_reply: true } }
      const response = yield* client.execute(
        HttpClientRequest.post(`${root}/bot${token}/sendMessage`).pipe(
          HttpClientRequest.bodyUnsafeJson({ chat_id: chatId, text, ...reply })
        )
      )
      const body = yield* Effect.orElseSucceed(response.json, (): unknown => null)
      const answer = decodeAnswer(body)
      const status = response.status
      if (status === 200 && Option.isSome(answer) && answer.value.ok) {
        return answer.value.result === undefined ? null : String(answer.value.result.message_id)
      }
      const description = Option.flatMap(answer, (a) => Option.fromNullable(a.description))
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
})
