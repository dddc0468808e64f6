/**
 * `@slack/web-api` clients against `SLACK_API_URL`, one per bot token (at
 * most a thousand kept), that neither retry nor wait out rate limits
 * themselves (`rejectRateLimitedCalls`): their callers decide what a failure
 * means.
 */
import { LogLevel, WebClient } from "@slack/web-api"

/** The client of each token, made on first use, each call bounded by `timeoutMs`. */
export const make = (slackApiUrl: string, timeoutMs: number) => {
  const clients = new Map<string, WebClient>()
  return (token: string): WebClient => {
    const known = clients.get(token)
    if (known !== undefined) return known
    if (clients.size > 1000) clients.clear()
    const client = new WebClient(token, {
      slackApiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: timeoutMs,
      logLevel: LogLevel.ERROR
    })
    clients.set(token, client)
    return client
  }
}
