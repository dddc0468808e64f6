/**
 * Pacing of outbound sends, as layered token buckets: a send takes a token
 * from every bucket that applies to it (its channel or chat, a Telegram
 * group's own, its Telegram bot's), or from none while any is empty; its wait
 * is then the longest of theirs. A destination (an account's channel or
 * chat) can also be held until a time the platform named (`Retry-After`).
 * Kept in memory by the one sender of the cluster; a sender that moves starts
 * with full buckets and no holds, and the platform's next 429 tells it again.
 */

/**
 * A token bucket's shape: `burst` sends at once, refilled at `perSecond`.
 * Over any `t` seconds it lets at most `burst + perSecond * t` sends through.
 */
export interface Limit {
  readonly burst: number
  readonly perSecond: number
}

/** One bucket a send takes a token from: its key and its shape. */
export interface Bucket {
  readonly key: string
  readonly limit: Limit
}

/** Slack's one message a second per channel, and Telegram's per chat, with a short burst. */
export const PER_CHANNEL: Limit = { burst: 3, perSecond: 1 }

/** Telegram's 20 messages a minute in a group: 5 at once and 15 more a minute, so never above 20 in 60 s. */
export const PER_GROUP: Limit = { burst: 5, perSecond: 15 / 60 }

/** Telegram's about 30 messages a second per bot: 10 at once and 20 more a second, so never above 30 in 1 s. */
export const PER_BOT: Limit = { burst: 10, perSecond: 20 }

/** An account's channel or chat: the key of its own bucket, and what a platform's 429 holds. */
export const destinationOf = (accountId: string, channel: string) => `${accountId}/${channel}`

/**
 * The buckets of a send to `channel` through an account: the channel's (or
 * chat's), and on Telegram the bot's and, for a group (a negative chat id),
 * the group's.
 */
export const bucketsOf = (
  platform: "slack" | "telegram",
  accountId: string,
  channel: string
): ReadonlyArray<Bucket> => {
  const own: Bucket = { key: destinationOf(accountId, channel), limit: PER_CHANNEL }
  if (platform === "slack") return [own]
  const bot: Bucket = { key: `bot:${accountId}`, limit: PER_BOT }
  return channel.startsWith("-") ? [own, { key: `group:${own.key}`, limit: PER_GROUP }, bot] : [own, bot]
}

/** One bucket's state. */
interface State {
  tokens: number
  at: number
  heldUntil: number
}

/** The buckets of one sender, made full on first use. */
export const make = () => {
  const states = new Map<string, State>()
  const stateOf = (bucket: Bucket, now: number): State => {
    const found = states.get(bucket.key) ?? { tokens: bucket.limit.burst, at: now, heldUntil: 0 }
    found.tokens = Math.min(
      bucket.limit.burst,
      found.tokens + (Math.max(0, now - found.at) / 1000) * bucket.limit.perSecond
    )
    found.at = Math.max(found.at, now)
    states.set(bucket.key, found)
    return found
  }
  /** Milliseconds until `bucket` has a token and is not held (0: now). */
  const waitOf = (bucket: Bucket, state: State, now: number) =>
    Math.max(
      state.heldUntil - now,
      state.tokens >= 1 ? 0 : Math.ceil(((1 - state.tokens) / bucket.limit.perSecond) * 1000)
    )
  return {
    /**
     * Milliseconds until a send through all of `buckets` may go (0: now, and
     * it took a token from each); the longest of their waits otherwise, with
     * nothing taken.
     */
    take: (buckets: ReadonlyArray<Bucket>, now: number): number => {
      const found = buckets.map((bucket) => ({ bucket, state: stateOf(bucket, now) }))
      const wait = Math.max(0, ...found.map(({ bucket, state }) => waitOf(bucket, state, now)))
      if (wait === 0) { for (const { state } of found) state.tokens -= 1 }
      return wait
    },
    /** Holds a destination until `until` (a platform's `Retry-After`). */
    hold: (destination: string, until: number, now: number): void => {
      const state = stateOf({ key: destination, limit: PER_CHANNEL }, now)
      state.heldUntil = Math.max(state.heldUntil, until)
      state.tokens = 0
    },
    /** Forgets buckets idle for a minute (full again by then), so the map stays small. */
    sweep: (now: number): void => {
      for (const [key, state] of states) if (state.heldUntil < now && now - state.at > 60_000) states.delete(key)
    }
  }
}
