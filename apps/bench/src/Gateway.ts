/**
 * The gateway fairness phase: one org's Telegram bot (A) takes a burst of
 * webhook deliveries while another org's bot (B) takes a steady trickle, and
 * B's inbound-to-room latency is compared with B's own, measured alone in the
 * same run just before. A's room is also bridged to a chat of a second bot of
 * A's org, so every burst message queues a send there: the fake Telegram
 * counts when each `sendMessage` arrived, and the phase checks that no chat
 * got more than its bucket allows in any 1 s window.
 */
import type { CreateTelegramChannel } from "@troupe/domain/Channel"
import type { RoomId } from "@troupe/domain/Ids"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as Os from "node:os"
import { performance } from "node:perf_hooks"
import type { Child } from "./Child.js"
import type { FakeTelegram } from "./FakeTelegram.js"
import { maxInWindow } from "./FakeTelegram.js"
import { orgOwner } from "./Fixtures.js"
import type { Command, FairnessResult, Results } from "./Protocol.js"
import { int, type Machine, machineList, ms, ratio, table } from "./Report.js"

/** How the phase is sized. */
export interface GatewaySettings {
  /** Deliveries in A's burst (`BENCH_GATEWAY_BURST`). */
  readonly burst: number
  /** Burst deliveries in flight at once: Telegram's own ceiling, `max_connections` of `setWebhook`, is 100. */
  readonly concurrency: number
  /** B's trickle, deliveries per second. */
  readonly perSecond: number
  /** How long B's trickle runs alone first. */
  readonly baselineMs: number
}

/** The outbox's pacing of one destination (`Outbound.ts`): 3 at once, then 1 per second. */
const BUCKET = { burst: 3, perSecond: 1 }

/** The most sends a bucket lets through in any 1 s window (its ends included): the burst and a second's refill. */
const BUCKET_MAX_PER_SECOND = BUCKET.burst + BUCKET.perSecond

/** The targets: B's p99 under 2 s during the burst, and within 2× its baseline. */
const TARGET = { p99Ms: 2_000, ratio: 2 }

/** What the phase measured. */
export interface GatewayRun {
  readonly date: Date
  readonly loadAverage: ReadonlyArray<number>
  readonly settings: GatewaySettings
  readonly result: FairnessResult
  /** The chats A's messages were sent to: sends counted, over how long, and the most in any 1 s window. */
  readonly outbound: ReadonlyArray<{ readonly chat: string; readonly sends: number; readonly maxPerSecond: number }>
  readonly seconds: number
}

/** A Telegram account of the org, bridged from `chat` to `roomId`; its webhook for the load generator. */
const telegramBot = (
  owner: Effect.Effect.Success<ReturnType<typeof orgOwner>>,
  roomId: RoomId,
  name: string,
  chat: number
) =>
  Effect.gen(function*() {
    const secret = randomBytes(16).toString("hex")
    const payload: typeof CreateTelegramChannel.Encoded = {
      kind: "telegram",
      name,
      botToken: `${chat}:${randomBytes(12).toString("hex")}`,
      webhookSecret: secret
    }
    const account = yield* owner.owner.api.channels.create({ path: { org: owner.org.id }, payload })
    yield* owner.owner.api.channels.createBridge({
      path: { org: owner.org.id, account: account.id },
      payload: { externalChannel: String(chat), roomId }
    })
    return { account, hook: { path: `/v1/gateway/telegram/${account.id}`, secret, chat } }
  })

/** Runs the phase against the server at `url`, with the load generator and the fake Telegram. */
export const gatewayPhase = (
  ctx: { readonly url: string; readonly load: Child<Command, Results>; readonly telegram: FakeTelegram },
  settings: GatewaySettings
) =>
  Effect.gen(function*() {
    const began = performance.now()
    const loadAverage = Os.loadavg()
    const a = yield* orgOwner(ctx.url, "BurstOrg")
    const b = yield* orgOwner(ctx.url, "QuietOrg")
    const roomA = yield* a.owner.api.rooms.create({ path: { org: a.org.id }, payload: { name: "burst" } })
    const roomB = yield* b.owner.api.rooms.create({ path: { org: b.org.id }, payload: { name: "quiet" } })
    const chat = () => -1_000_000_000_000 - randomBytes(4).readUInt32BE()
    const botA = yield* telegramBot(a, roomA.id, "Burst bot", chat())
    // A second bot of A's org, bridged to the same room: A's inbound goes out through it.
    const outChat = chat()
    const outA = yield* telegramBot(a, roomA.id, "Burst relay", outChat)
    const botB = yield* telegramBot(b, roomB.id, "Quiet bot", chat())

    yield* ctx.load.call({ type: "open", baseUrl: ctx.url, tokens: [b.owner.token], concurrency: 1, timeoutMs: 30_000 })
    const result = yield* ctx.load.call({
      type: "fairness",
      baseUrl: ctx.url,
      quiet: botB.hook,
      burst: { ...botA.hook, count: settings.burst, concurrency: settings.concurrency },
      perSecond: settings.perSecond,
      baselineMs: settings.baselineMs,
      minDuringMs: 5_000,
      deliveryTimeoutMs: 30_000
    }).pipe(Effect.ensuring(ctx.load.call({ type: "close" }).pipe(Effect.ignore)))
    const outbound = [...ctx.telegram.sends].map(([chat, times]) => ({
      chat,
      sends: times.length,
      maxPerSecond: maxInWindow(times, 1000)
    }))
    // The relay's thousands of queued sends would keep the outbox busy for hours: they go with it.
    yield* a.owner.api.channels.delete({ path: { org: a.org.id, account: outA.account.id } })
    const run: GatewayRun = {
      date: new Date(),
      loadAverage,
      settings,
      result,
      outbound,
      seconds: (performance.now() - began) / 1000
    }
    return run
  })

/** Whether B's latency during the burst met the targets. */
const verdict = (r: FairnessResult) => {
  const ok = r.during.p99 < TARGET.p99Ms && r.during.p99 / r.baseline.p99 <= TARGET.ratio
  return ok
    ? `met (p99 under ${TARGET.p99Ms / 1000} s and within ${TARGET.ratio}× the baseline)`
    : `missed (target: p99 under ${TARGET.p99Ms / 1000} s and within ${TARGET.ratio}× the baseline)`
}

/** The phase's figures: the machine, B's latency alone and during A's burst, the burst, A's sends. */
export const gatewaySummary = (machine: Machine, run: GatewayRun) => {
  const r = run.result
  const row = (label: string, s: FairnessResult["baseline"], base: FairnessResult["baseline"]) => [
    label,
    int(s.count),
    ms(s.p50),
    ms(s.p99),
    ms(s.max),
    ratio(s.p50 / base.p50),
    ratio(s.p99 / base.p99)
  ]
  return [
    machineList(machine),
    `- measured: ${run.date.toISOString().slice(0, 16).replace("T", " ")} UTC; load average at the start ` +
    `${run.loadAverage.map((x) => x.toFixed(2)).join(", ")} (1, 5, 15 min)`,
    "",
    table(
      [
        "B's inbound: webhook POST → message.created on B's stream",
        "updates",
        "p50 ms",
        "p99 ms",
        "max ms",
        "p50 ÷ alone",
        "p99 ÷ alone"
      ],
      [
        row(`B alone, ${run.settings.perSecond}/s (baseline)`, r.baseline, r.baseline),
        row(`B, ${run.settings.perSecond}/s, during A's burst`, r.during, r.baseline)
      ]
    ),
    "",
    table(["gateway run", "value"], [
      [`A's burst: updates posted, ${run.settings.concurrency} at a time`, int(r.burst.posted)],
      ["A's burst: took, s", (r.burst.elapsedMs / 1000).toFixed(1)],
      ["A's burst: updates stored per second", int(r.burst.posted / (r.burst.elapsedMs / 1000))],
      ["A's burst: POST p50 / p99 ms", `${ms(r.burst.post.p50)} / ${ms(r.burst.post.p99)}`],
      [
        "B's POST p50 / p99 ms, alone → during the burst",
        `${ms(r.posts.baseline.p50)} / ${ms(r.posts.baseline.p99)} → ${ms(r.posts.during.p50)} / ${
          ms(r.posts.during.p99)
        }`
      ],
      ["posts not answered 200 (A's burst, B's trickle)", `${int(r.burst.errors)}, ${int(r.errors)}`],
      ["B's updates that never reached the room", int(r.missing)],
      ["B's p99 during the burst", verdict(r)],
      ...run.outbound.map((o) => [
        `A's sends to chat ${o.chat}: sendMessage calls, most in any 1 s window`,
        `${int(o.sends)}, ${o.maxPerSecond} (bucket: at most ${BUCKET_MAX_PER_SECOND}) ${
          o.maxPerSecond <= BUCKET_MAX_PER_SECOND ? "ok" : "EXCEEDED"
        }`
      ]),
      ["gateway phase took, s", run.seconds.toFixed(0)]
    ])
  ].join("\n")
}
