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

/** Notes under the tables. */
export const clusterNotes = (r: ClusterResults) => {
  const fr = r.fairness
  const b = fr.burst
  const lines = [
    `- Turns: ${
      int(r.teammates)
    } teammates in ${r.rooms} rooms, each given one mention per phase, ${r.lanes} turns in flight ` +
    `(ideal with a ${r.delayMs} ms model and no overhead: ${int(r.lanes * 1000 / r.delayMs)} turns/s).` +
    r.phases.map((p) =>
      p.turns.timedOut + p.turns.failedReplies + p.turns.errors > 0
        ? ` With ${p.runners}: ${p.turns.timedOut} timed out, ${p.turns.failedReplies} failed, ${p.turns.errors} posts refused.`
        : ""
    ).join(""),
    `- Fairness: the other org's ${fr.posters} people posted ${int(b.posted)} messages in ${
      (b.elapsedMs / 1000).toFixed(1)
    } s ` +
    `(${
      int(b.posted / (b.elapsedMs / 1000))
    }/s, ${b.errors} refused; every ${fr.mentionEvery}th mentioned a teammate), ` +
    (fr.planned >= fr.target
      ? `a burst of ${int(fr.planned)} planned, ${int(b.posted)} posted before the ${fr.burstSeconds} s bound; `
      : `a burst of ${int(fr.planned)} at most instead of ${int(fr.target)} (quick run); `) +
    `their own delivery p99 was ` +
    `${ms(b.delivery.p99)} ms. Write rate limits were raised out of the way: with the default ` +
    "`RATE_ORG_WRITES_PER_MIN` (3,000) that org would have been held to 50 posts/s. `ORG_CONCURRENT_WRITES` was at its default (8)." +
    (fr.underBurst.missing + fr.quiet.missing > 0
      ? ` ${fr.underBurst.missing + fr.quiet.missing} quiet deliveries were late (over 10 s).`
      : "")
  ]
  const first = r.failovers[0]
  if (first !== undefined) {
    const incomplete = r.failovers.filter((f) => !f.complete).length
    const twice = r.failovers.reduce((n, f) => n + f.duplicates, 0)
    lines.push(
      `- Failover: ${first.teammates} teammates with a room each, ${first.queued} mentions each posted at once (each turn streams ` +
        `for about half a second); the runner was killed about ${
          (first.killAfterMs / 1000).toFixed(1)
        } s after the first post. ` +
        `${
          incomplete === 0 ? "Every turn was answered" : `${incomplete} rounds missed replies (2 minutes at most)`
        }, ` +
        `${
          twice === 0 ? "none twice" : `${twice} twice`
        }. One kill per row: where the kill falls in the health-check and ` +
        "heartbeat cycles moves these figures by seconds. A killed runner's shard locks go as soon as its connection drops; " +
        "the survivors wait to learn it is gone, either from the ping health check (every `CLUSTER_HEALTH_INTERVAL`, and " +
        "in @effect/cluster 0.60 it retries a failed ping 5 times, 500 ms apart) or from its heartbeat getting older than " +
        "`CLUSTER_LOCK_EXPIRATION`, then take its shards at their next assignment refresh and read its mailboxes."
    )
  }
  const tuned = Object.entries(r.tuned).map(([k, v]) => `\`${k}=${v}\``).join(", ")
  lines.push(
    `- Tuned settings: ${tuned}. The "defaults" rows run with no cluster variables set, i.e. the defaults in apps/server/src/Cluster.ts.`
  )
  return lines.join("\n")
}

/** The tables and notes printed at the end of a run. */
export const clusterSummary = (r: ClusterResults) =>
  [
    machineList(r.machine),
    "",
    scaleTable(r),
    "",
    fairnessTable(r),
    "",
    failoverTable(r),
    "",
    clusterNotes(r),
    "",
    `Run took ${r.seconds.toFixed(0)} s.`
  ]
    .join("\n")

/** The "Cluster" section of `docs/benchmarks.md`. */
export const clusterSection = (r: ClusterResults) =>
  `## Cluster

\`npm run bench:cluster\` runs Troupe as separate node processes on the loopback interface, the way it
is deployed: an api node (\`TROUPE_ROLE=api\`, HTTP and SSE, a client-only cluster member) and runners
(\`TROUPE_ROLE=runner\`, hosting the teammate entities), sharing one fresh Postgres database and Redis
(under a key prefix of their own), with the fake OpenAI-compatible model in a process of its own
answering after ${r.delayMs} ms. The load generators are two more processes. Each figure is again a
ratio against a baseline measured in the same run.

- **Runners.** Runners join one at a time; after each, the benchmark waits until the shard locks
  (Postgres advisory locks, counted in \`pg_locks\` by holding connection) are spread over all of
  them and stable. Then every teammate gets one mention, ${r.lanes} turns in flight (one room at a
  time per lane, so the model's directive is always in the newest message); turns/s counts replies
  from the first post to the last reply, and post → first delta is the time from just before the
  POST to the teammate's first \`message.delta\` on the owner's stream.
- **Fairness.** A person of a quiet org posts one message at a time into a room of theirs and times
  post → SSE delivery on their own stream, alone and then while another org's people post as fast
  as they can (each into their own room, with their streams open).
- **Failover.** Teammates with a room each get ${r.failovers[0]?.queued ?? 3} mentions at once, and a runner is
  killed with \`kill -9\` while their turns run and wait; once the shards have settled on the
  survivors, the same again with another runner. The killed runner's teammates are the ones whose
  shards its Postgres connection held. The figure is the time from the kill until every one of
  them has answered every queued mention, against the same teammates from the same moment in an
  identical round without a kill just before. This is done with the tuned cluster settings of the
  failover test, then on a fresh cluster with the defaults.

Measured ${
    r.date.toISOString().slice(0, 10)
  } on a ${r.machine.cpus}-core machine (every node, the model, the load generators and
Postgres and Redis all on it, so more runners add processes, not cores):

${machineList(r.machine)}

${scaleTable(r)}

${fairnessTable(r)}

${failoverTable(r)}

${clusterNotes(r)}

\`\`\`sh
npm run bench:cluster                                # prints the tables
npm run bench:cluster -- --write docs/benchmarks.md  # and replaces this section
\`\`\`

It needs Postgres at \`DATABASE_URL\` and Redis at \`REDIS_URL\` (default \`redis://127.0.0.1:6379\`), and
took ${r.seconds.toFixed(0)} s on the machine above.
`
