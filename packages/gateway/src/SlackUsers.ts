/**
 * Slack users' display names, for message events that carry no
 * `user_profile`: asked of Slack with `users.info` (the bot token needs the
 * `users:read` scope) and kept per account and user for an hour. A lookup
 * that fails (no scope, an unknown user, Slack slow to answer) names the
 * person by their Slack user id, and is not kept: the next message asks again.
 */
import { Clock, Effect, Option } from "effect"
import * as SlackClients from "./internal/SlackClients.js"
import { SlackApiUrl } from "./SlackSender.js"

/** How long a looked-up name is kept. */
export const NAME_TTL_MS = 60 * 60_000

/** How long a lookup may take: Slack wants its delivery acknowledged within 3 seconds. */
const LOOKUP_TIMEOUT_MS = 1_500

/** The most names kept; past it the cache starts again. */
const MAX_NAMES = 10_000

/** A name lookup for one process. */
export const make = Effect.map(SlackApiUrl, (slackApiUrl) => {
  const clientFor = SlackClients.make(slackApiUrl, LOOKUP_TIMEOUT_MS)
  const names = new Map<string, { readonly name: string; readonly until: number }>()
  return {
    /** The display name of `user` as the account (its bot `token`) sees it, else the user id. */
    nameOf: (accountId: string, token: string, user: string): Effect.Effect<string> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const key = `${accountId}/${user}`
        const kept = names.get(key)
        if (kept !== undefined && kept.until > now) return kept.name
        const answer = yield* Effect.option(Effect.tryPromise(() => clientFor(token).users.info({ user })))
        const found = Option.getOrUndefined(answer)?.user
        const name = found?.profile?.display_name || found?.profile?.real_name || found?.real_name || found?.name
        if (name === undefined || name === "") return user
        if (names.size >= MAX_NAMES) names.clear()
        names.set(key, { name, until: now + NAME_TTL_MS })
        return name
      })
  } as const
})
