/**
 * The layered buckets on explicit times (milliseconds): no clock, no sleeps.
 * A simulated sender sends whenever `take` lets it and otherwise moves time
 * on by the wait it was told, as the outbox does.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Pacing from "../src/Pacing.js"

/** The most sends `times` (sorted) has in any window of `ms` milliseconds. */
const busiest = (times: ReadonlyArray<number>, ms: number) =>
  Math.max(0, ...times.map((start, i) => times.slice(i).filter((t) => t < start + ms).length))

/**
 * Sends `count` messages to each of `channels` through one Telegram or Slack
 * account, round-robin as fast as the buckets allow: the times of the sends.
 */
const flood = (platform: "slack" | "telegram", channels: ReadonlyArray<string>, count: number) => {
  const pacing = Pacing.make()
  const left = new Map(channels.map((c) => [c, count]))
  const sent = new Map<string, Array<number>>(channels.map((c) => [c, []]))
  let now = 0
  while ([...left.values()].some((n) => n > 0)) {
    let soonest = Infinity
    for (const channel of channels) {
      if ((left.get(channel) ?? 0) === 0) continue
      const wait = pacing.take(Pacing.bucketsOf(platform, "acct", channel), now)
      if (wait === 0) {
        sent.get(channel)?.push(now)
        left.set(channel, (left.get(channel) ?? 0) - 1)
        soonest = 0
      } else soonest = Math.min(soonest, wait)
    }
    now += soonest
  }
  return sent
}

describe("pacing", () => {
  it("a channel sends a burst of 3, then one a second", () => {
    const pacing = Pacing.make()
    const buckets = Pacing.bucketsOf("slack", "acct", "C1")
    expect([0, 0, 0, 0].map(() => pacing.take(buckets, 0))).toEqual([0, 0, 0, 1000])
    expect(pacing.take(buckets, 400)).toBe(600)
    expect(pacing.take(buckets, 1000)).toBe(0)
    expect(pacing.take(buckets, 1000)).toBe(1000)
    // Another channel of the same account has its own bucket.
    expect(pacing.take(Pacing.bucketsOf("slack", "acct", "C2"), 1000)).toBe(0)
  })

  it("Slack and Telegram private chats: about one a second per channel, never more", () => {
    for (const platform of ["slack", "telegram"] as const) {
      const [times = []] = [...flood(platform, ["42"], 40).values()]
      expect(busiest(times, 1000)).toBeLessThanOrEqual(3)
      expect(busiest(times, 10_000)).toBeLessThanOrEqual(3 + 10)
      // Not slower than the limit either: 40 sends take 37 seconds.
      expect(times.at(-1)).toBe(37_000)
    }
  })

  it("a Telegram group (a negative chat id) gets at most 20 a minute, however long it sends", () => {
    const [times = []] = [...flood("telegram", ["-100123"], 60).values()]
    for (let window = 1000; window <= 60_000; window += 1000) {
      expect(busiest(times, window)).toBeLessThanOrEqual(Math.min(3 + window / 1000, 20))
    }
    expect(busiest(times, 60_000)).toBeGreaterThanOrEqual(19)
    // A private chat of the same bot is not held back by the group's bucket.
    const pacing = Pacing.make()
    for (const t of [0, 0, 0, 1000, 2000]) {
      expect(pacing.take(Pacing.bucketsOf("telegram", "acct", "-100123"), t)).toBe(0)
    }
    expect(pacing.take(Pacing.bucketsOf("telegram", "acct", "-100123"), 2500)).toBeGreaterThan(0)
    expect(pacing.take(Pacing.bucketsOf("telegram", "acct", "7"), 2500)).toBe(0)
  })

  it("one Telegram bot sends at most 30 a second across all its chats", () => {
    const chats = Array.from({ length: 100 }, (_, i) => String(i + 1))
    const all = [...flood("telegram", chats, 3).values()].flat().sort((a, b) => a - b)
    expect(all).toHaveLength(300)
    expect(busiest(all, 1000)).toBeLessThanOrEqual(30)
    expect(busiest(all, 100)).toBeLessThanOrEqual(10 + 2)
    // Another bot is not held back by this one's bucket.
    const pacing = Pacing.make()
    for (const chat of chats.slice(0, 10)) expect(pacing.take(Pacing.bucketsOf("telegram", "a", chat), 0)).toBe(0)
    expect(pacing.take(Pacing.bucketsOf("telegram", "a", "11"), 0)).toBe(50)
    expect(pacing.take(Pacing.bucketsOf("telegram", "b", "11"), 0)).toBe(0)
  })

  it("an empty bucket makes the wait the longest of all, and takes from none of them", () => {
    const pacing = Pacing.make()
    const group = Pacing.bucketsOf("telegram", "acct", "-5")
    const chat: Pacing.Bucket = { key: Pacing.destinationOf("acct", "-5"), limit: Pacing.PER_CHANNEL }
    for (const t of [0, 0, 0, 1000, 2000]) expect(pacing.take(group, t)).toBe(0)
    // At 2.5 s the chat needs half a second more, the group (a quarter of a token a second) one and a half.
    expect(pacing.take(group, 2500)).toBe(1500)
    expect(pacing.take(group, 4000)).toBe(0)
    // The refused send took nothing: asked alone, the chat's bucket has another token at 4 s.
    expect(pacing.take([chat], 4000)).toBe(0)
  })

  it("a hold (a platform's Retry-After) outlasts every bucket, for that destination only", () => {
    const pacing = Pacing.make()
    pacing.hold(Pacing.destinationOf("acct", "C1"), 5000, 0)
    expect(pacing.take(Pacing.bucketsOf("slack", "acct", "C1"), 1000)).toBe(4000)
    expect(pacing.take(Pacing.bucketsOf("slack", "acct", "C2"), 1000)).toBe(0)
    expect(pacing.take(Pacing.bucketsOf("slack", "acct", "C1"), 5000)).toBe(0)
    pacing.sweep(200_000)
    expect([0, 0, 0, 0].map(() => pacing.take(Pacing.bucketsOf("slack", "acct", "C1"), 200_000))).toEqual([
      0,
      0,
      0,
      1000
    ])
  })
})
