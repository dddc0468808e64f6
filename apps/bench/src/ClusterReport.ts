/**
 * The tables of `npm run bench:cluster`, and the "Cluster" section of
 * `docs/benchmarks.md` rendered from one run.
 */
import type { LatencyResult, ThroughputResult, TurnsResult } from "./Protocol.js"
import { int, type Machine, machineList, ms, ratio, table } from "./Report.js"

/** Turns with a given number of runners. */
export interface ScalePhase {
  readonly runners: number
  /** From starting the new runner to its share of the shards being settled (0 for the first). */
  readonly rebalanceSeconds: number
  /** Shards per runner, largest first. */
  readonly shardSplit: ReadonlyArray<number>
  readonly turns: TurnsResult
}

/** One org's delivery latency alone, and while another org bursts. */
export interface FairnessRun {
  readonly posters: number
  /** The burst the brief asked for. */
  readonly target: number
  /** The burst the run attempted (scaled down to fit the time). */
  readonly planned: number
  readonly burstSeconds: number
  /** Every this-many-th burst post mentions the poster's teammate. */
  readonly mentionEvery: number
  readonly quiet: LatencyResult
  readonly underBurst: LatencyResult
  readonly burst: ThroughputResult
}

/** A runner killed with SIGKILL while its teammates had turns queued. */
export interface FailoverRun {
  /** `tuned` (the failover test's settings) or `defaults`. */
  readonly settings: string
  readonly runnersBefore: number
  readonly teammates: number
  /** Turns queued per teammate. */
  readonly queued: number
  /** Teammates on the killed runner (`undefined` if its shards could not be told). */
  readonly victims: number | undefined
  /** Shards the killed runner held. */
  readonly victimShards: number | undefined
  /** Of those, the ones with turns left at the kill. */
  readonly pendingVictims: number
  /** From the round's first post to the kill. */
  readonly killAfterMs: number
  /** From the kill until every one of those streamed again (first delta or reply). */
  readonly resumedMs: number
  /** From the kill until every one of those had answered every queued turn. */
  readonly answeredMs: number
  /** The same teammates in the same round without a kill, from the same moment. */
  readonly baselineMs: number
  /** First post to last reply, with and without the kill. */
  readonly roundMs: number
  readonly baseRoundMs: number
  /** Whether every expected reply arrived, in both rounds. */
  readonly complete: boolean
  /** Replies beyond the turns queued (a turn answered twice). */
  readonly duplicates: number
}

/** Everything one cluster run measured. */
export interface ClusterResults {
  readonly date: Date
  readonly machine: Machine
  readonly delayMs: number
  readonly teammates: number
  readonly rooms: number
  readonly lanes: number
  readonly phases: ReadonlyArray<ScalePhase>
  readonly fairness: FairnessRun
  readonly failovers: ReadonlyArray<FailoverRun>
  readonly tuned: Readonly<Record<string, string>>
  readonly seconds: number
}

const perSecond = (t: TurnsResult) => t.completed / (t.elapsedMs / 1000)

/** Turns per second and post → first delta by number of runners, against one runner. */
export const scaleTable = (r: ClusterResults) => {
  const one = r.phases[0]
  return table(
    [
      "runners (+ 1 api node)",
      "turns",
      "seconds",
      "turns/s",
      "÷ 1 runner",
      "post → first delta p50 ms",
      "p99 ms",
      "p99 ÷ 1 runner",
      "post → reply p99 ms",
      "shards per runner",
      "settled after s"
    ],
    r.phases.map((p) => [
      String(p.runners),
      p.turns.completed < p.turns.turns ? `${int(p.turns.completed)} of ${int(p.turns.turns)}` : int(p.turns.completed),
      (p.turns.elapsedMs / 1000).toFixed(1),
      perSecond(p.turns).toFixed(1),
      ratio(one === undefined ? Number.NaN : perSecond(p.turns) / perSecond(one.turns)),
      ms(p.turns.firstDelta.p50),
      ms(p.turns.firstDelta.p99),
      ratio(one === undefined ? Number.NaN : p.turns.firstDelta.p99 / one.turns.firstDelta.p99),
      ms(p.turns.reply.p99),
      p.shardSplit.join(" / "),
      p.runners === 1 ? "–" : p.rebalanceSeconds.toFixed(1)
    ])
  )
}

/** The quiet org's delivery latency alone and under the other org's burst. */
export const fairnessTable = (r: ClusterResults) => {
  const { quiet, underBurst } = r.fairness
  return table(
    ["quiet org: post → SSE delivery", "posts", "p50 ms", "p99 ms", "p50 ÷ alone", "p99 ÷ alone"],
    [
      ["alone (baseline)", int(quiet.posts), ms(quiet.delivery.p50), ms(quiet.delivery.p99), ratio(1), ratio(1)],
      [
        "while another org bursts",
        int(underBurst.posts),
        ms(underBurst.delivery.p50),
        ms(underBurst.delivery.p99),
        ratio(underBurst.delivery.p50 / quiet.delivery.p50),
        ratio(underBurst.delivery.p99 / quiet.delivery.p99)
      ]
    ]
  )
}

/** Failover after `kill -9`, against the same teammates without a kill. */
export const failoverTable = (r: ClusterResults) =>
  table(
    [
      "kill -9 of a runner",
      "runners",
      "its shards",
      "its teammates (turns left)",
      "streaming again after s",
      "all answered after s",
      "same, no kill s",
      "÷ no kill",
      "whole round s (no kill)"
    ],
    r.failovers.map((f) => [
      `${f.settings} cluster settings`,
      `${f.runnersBefore} → ${f.runnersBefore - 1}`,
      f.victimShards === undefined ? "?" : String(f.victimShards),
      f.victims === undefined ? `? (${f.pendingVictims})` : `${f.victims} (${f.pendingVictims})`,
      (f.resumedMs / 1000).toFixed(1),
      (f.answeredMs / 1000).toFixed(1),
      (f.baselineMs / 1000).toFixed(1),
      ratio(f.answeredMs / f.baselineMs),
      `${(f.roundMs / 1000).toFixed(1)} (${(f.baseRoundMs / 1000).toFixed(1)})`
    ])
  )

/** What the cluster runs did besides their figures: sizes, failures, settings. */
export const clusterFacts = (r: ClusterResults) => {
  const fr = r.fairness
  const b = fr.burst
  const first = r.failovers[0]
  const rows = [
    ["turns: teammates, rooms, in flight", `${int(r.teammates)}, ${r.rooms}, ${r.lanes}`],
    ["turns: ideal turns/s (in flight ÷ model latency)", int(r.lanes * 1000 / r.delayMs)],
    ...r.phases.map((p) => [
      `turns with ${p.runners}: timed out, failed, posts refused`,
      `${p.turns.timedOut}, ${p.turns.failedReplies}, ${p.turns.errors}`
    ]),
    [
      "fairness: bursting org's posters, posts (planned), seconds",
      `${fr.posters}, ${int(b.posted)} (${int(fr.planned)}), ${(b.elapsedMs / 1000).toFixed(1)}`
    ],
    [
      "fairness: bursting org's posts/s, refused, its own delivery p99 ms",
      `${int(b.posted / (b.elapsedMs / 1000))}, ${b.errors}, ${ms(b.delivery.p99)}`
    ],
    ["fairness: every Nth burst post mentions a teammate", String(fr.mentionEvery)],
    ["fairness: quiet deliveries later than 10 s", String(fr.underBurst.missing + fr.quiet.missing)]
  ]
  if (first !== undefined) {
    rows.push(
      [
        "failover: teammates, mentions each, kill after s",
        `${first.teammates}, ${first.queued}, ${(first.killAfterMs / 1000).toFixed(1)}`
      ],
      ["failover: rounds with missing replies", String(r.failovers.filter((f) => !f.complete).length)],
      ["failover: replies posted twice", String(r.failovers.reduce((n, f) => n + f.duplicates, 0))]
    )
  }
  rows.push(
    ["tuned cluster settings", Object.entries(r.tuned).map(([k, v]) => `\`${k}=${v}\``).join(", ")],
    ["run took, s", r.seconds.toFixed(0)]
  )
  return table(["cluster runs", "value"], rows)
}

/** The figures of a cluster run: the machine, then tables only (docs/benchmarks.md explains them). */
export const clusterSummary = (r: ClusterResults) =>
  [machineList(r.machine), "", scaleTable(r), "", fairnessTable(r), "", failoverTable(r), "", clusterFacts(r)].join(
    "\n"
  )
