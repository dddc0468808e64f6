/**
 * Sends a room message to a Slack channel with `chat.postMessage`, and its
 * edits and deletion with `chat.update` and `chat.delete`, through
 * `@slack/web-api`, against `SLACK_API_URL`. The client neither retries nor
 * waits out rate limits itself (`rejectRateLimitedCalls`): the outbox paces
 * each channel and decides what a failure means.
 */
import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError } from "@slack/web-api"
import { Config, Effect } from "effect"
import { PermanentFailure, RateLimitedByPlatform, type SendError, TransientFailure } from "./Delivery.js"
import * as SlackClients from "./internal/SlackClients.js"
import { escapeText } from "./Slack.js"

/** Slack's Web API base URL (`SLACK_API_URL`, default `https://slack.com/api/`). */
export const SlackApiUrl = Config.string("SLACK_API_URL").pipe(
  Config.withDefault("https://slack.com/api/"),
  Config.map((url) => url.endsWith("/") ? url : `${url}/`)
)

/** How long one call may take before it counts as a transient failure. */
const TIMEOUT_MS = 10_000

/** Slack's `error` values that may pass if tried again. */
const transientErrors = new Set([
  "internal_error",
  "fatal_error",
  "service_unavailable",
  "request_timeout",
  "ratelimited"
])

/** Slack's answer to a failed call, as the outbox treats it. */
const classify = (e: unknown): SendError => {
  if (e instanceof WebAPIRateLimitedError) return new RateLimitedByPlatform({ retryAfterMs: e.retryAfter * 1000 })
  if (e instanceof WebAPIPlatformError) {
    const reason = `slack: ${e.data.error}`
    return transientErrors.has(e.data.error) ? new TransientFailure({ reason }) : new PermanentFailure({ reason })
  }
  if (e instanceof WebAPIHTTPError) {
    const reason = `slack: HTTP ${e.statusCode}`
    return e.statusCode >= 500 || e.statusCode === 408
      ? new TransientFailure({ reason })
      : new PermanentFailure({ reason })
  }
  if (e instanceof WebAPIRequestError) return new TransientFailure({ reason: `slack: ${e.original.message}` })
  return new TransientFailure({ reason: `slack: ${e instanceof Error ? e.message : String(e)}` })
}

/** A sender of messages to Slack channels. */
export const make = Effect.map(SlackApiUrl, (slackApiUrl) => {
  const clientFor = SlackClients.make(slackApiUrl, TIMEOUT_MS)
  const call = <A>(run: () => Promise<A>): Effect.Effect<A, SendError> =>
    Effect.tryPromise({ try: run, catch: classify })
  return {
    /** Posts `text` (escaped for Slack) to `channel`, in the thread of `threadTs` if given; the message's `ts` is its id. */
    post: (
      token: string,
      channel: string,
      text: string,
      threadTs: string | null
    ): Effect.Effect<string | null, SendError> =>
      call(() =>
        clientFor(token).chat.postMessage({
          channel,
          text: escapeText(text),
          ...(threadTs === null ? {} : { thread_ts: threadTs })
        })
      ).pipe(Effect.map((result) => result.ts ?? null)),
    /** Replaces the text of the message `ts` in `channel` (`chat.update`). */
    update: (token: string, channel: string, ts: string, text: string): Effect.Effect<null, SendError> =>
      call(() => clientFor(token).chat.update({ channel, ts, text: escapeText(text) })).pipe(Effect.as(null)),
    /** Deletes the message `ts` in `channel` (`chat.delete`). */
    remove: (token: string, channel: string, ts: string): Effect.Effect<null, SendError> =>
      call(() => clientFor(token).chat.delete({ channel, ts })).pipe(Effect.as(null))
  } as const
})
