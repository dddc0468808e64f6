/**
 * Pacing per destination (an account's channel or chat): a token bucket of
 * `burst` sends refilled at `perSecond`, and a hold until a time the
 * platform named (`Retry-After`). Kept in memory by the one sender of the
 * cluster; a sender that moves starts with full buckets and no holds, and
 * the platform's next 429 tells it again.
 */

/** One destination's bucket. */
interface Bucket {
  tokens: number
  at: number
  heldUntil: number
}

/** A token bucket per destination. */
export const make = (options: { readonly burst: number; readonly perSecond: number }) => {
  const buckets = new Map<string, Bucket>()
  const bucket = (key: string, now: number): Bucket => {
    const found = buckets.get(key) ?? { tokens: options.burst, at: now, heldUntil: 0 }
    found.tokens = Math.min(options.burst, found.tokens + ((now - found.at) / 1000) * options.perSecond)
    found.at = now
    buckets.set(key, found)
    return found
  }
  return {
    /** Milliseconds until `key` may send (0: now), taking the token when it may. */
    take: (key: string, now: number): number => {
      const b = bucket(key, now)
      if (b.heldUntil > now) return b.heldUntil - now
      if (b.tokens >= 1) {
        b.tokens -= 1
        return 0
      }
      return Math.ceil(((1 - b.tokens) / options.perSecond) * 1000)
    },
    /** Holds `key` until `until` (a platform's `Retry-After`). */
    hold: (key: string, until: number, now: number): void => {
      const b = bucket(key, now)
      b.heldUntil = Math.max(b.heldUntil, until)
      b.tokens = 0
    },
    /** Forgets destinations idle for a minute, so the map stays small. */
    sweep: (now: number): void => {
      for (const [key, b] of buckets) if (b.heldUntil < now && now - b.at > 60_000) buckets.delete(key)
    }
  }
}
