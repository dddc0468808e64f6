/**
 * The cluster a node joins, by role:
 *
 * - `all` without `CLUSTER_RUNNER_PORT`: one process, a single runner whose
 *   shard state and persisted mailboxes live in Postgres (the embedded default).
 * - `all` or `runner` with `CLUSTER_RUNNER_PORT`: a runner reachable by other
 *   nodes over TCP, sharing shards with the other runners through Postgres.
 * - `api`: a client-only member that sends to teammates but hosts none.
 *
 * Cluster settings have their own variable names: the cluster library would
 * otherwise read `PORT` and `HOST` (the HTTP settings) as its own.
 */
import { RunnerAddress, SingleRunner } from "@effect/cluster"
import { NodeClusterSocket } from "@effect/platform-node"
import { Config, Duration, Effect, Layer, Option } from "effect"

/** Node role. */
export const Role = Config.literal("all", "api", "runner")("TROUPE_ROLE").pipe(Config.withDefault("all" as const))

/** Cluster settings. */
export const ClusterConfig = Config.all({
  role: Role,
  /** Port other nodes reach this runner on; unset means single-runner mode (`CLUSTER_RUNNER_PORT`). */
  runnerPort: Config.option(Config.integer("CLUSTER_RUNNER_PORT")),
  /** Host other nodes reach this runner at (`CLUSTER_RUNNER_HOST`, default 127.0.0.1). */
  runnerHost: Config.string("CLUSTER_RUNNER_HOST").pipe(Config.withDefault("127.0.0.1")),
  /** Address the runner listens on (`CLUSTER_LISTEN_HOST`, default the runner host). */
  listenHost: Config.option(Config.string("CLUSTER_LISTEN_HOST")),
  /** Shards per group (`CLUSTER_SHARDS`, default 300); every node of a cluster must agree. */
  shards: Config.integer("CLUSTER_SHARDS").pipe(Config.withDefault(300)),
  /**
   * How long a dead runner's shard locks last (`CLUSTER_LOCK_EXPIRATION`, default 4 seconds). With a
   * 1 s refresh a runner survives pauses of about 3 s; the failover tests measure about 4 s from
   * `kill -9` to every teammate of the dead runner answering from a survivor.
   */
  lockExpiration: Config.duration("CLUSTER_LOCK_EXPIRATION").pipe(Config.withDefault(Duration.seconds(4))),
  /** How often a runner refreshes its shard locks (`CLUSTER_LOCK_REFRESH`, default 1 second). */
  lockRefresh: Config.duration("CLUSTER_LOCK_REFRESH").pipe(Config.withDefault(Duration.seconds(1))),
  /** How often shard assignments are re-read (`CLUSTER_ASSIGNMENT_REFRESH`, default 500 milliseconds). */
  assignmentRefresh: Config.duration("CLUSTER_ASSIGNMENT_REFRESH").pipe(Config.withDefault(Duration.millis(500))),
  /** How often other runners are health-checked (`CLUSTER_HEALTH_INTERVAL`, default 2 seconds). */
  healthInterval: Config.duration("CLUSTER_HEALTH_INTERVAL").pipe(Config.withDefault(Duration.seconds(2))),
  /** How often persisted mailboxes are polled (`CLUSTER_MESSAGE_POLL`, default 500 milliseconds). */
  messagePoll: Config.duration("CLUSTER_MESSAGE_POLL").pipe(Config.withDefault(Duration.millis(500)))
})

/** The resolved settings. */
export type ClusterConfig = Config.Config.Success<typeof ClusterConfig>

/** Whether this node hosts teammate entities. */
export const hostsEntities = (c: ClusterConfig) => c.role !== "api"

const sharding = (c: ClusterConfig) => ({
  shardsPerGroup: c.shards,
  shardLockExpiration: c.lockExpiration,
  shardLockRefreshInterval: c.lockRefresh,
  refreshAssignmentsInterval: c.assignmentRefresh,
  runnerHealthCheckInterval: c.healthInterval,
  entityMessagePollInterval: c.messagePoll
})

/** The cluster layer for this node's role. */
export const ClusterLive = Layer.unwrapEffect(Effect.gen(function*() {
  const c = yield* ClusterConfig
  if (c.role === "api") {
    return NodeClusterSocket.layer({
      clientOnly: true,
      storage: "sql",
      shardingConfig: { ...sharding(c), runnerAddress: Option.none(), runnerListenAddress: Option.none() }
    })
  }
  if (Option.isNone(c.runnerPort)) {
    if (c.role === "runner") {
      return yield* Effect.dieMessage("TROUPE_ROLE=runner needs CLUSTER_RUNNER_PORT (the port other nodes reach it on)")
    }
    return SingleRunner.layer({ runnerStorage: "sql", shardingConfig: sharding(c) })
  }
  const port = c.runnerPort.value
  yield* Effect.logInfo(`cluster runner at ${c.runnerHost}:${port}`)
  return NodeClusterSocket.layer({
    storage: "sql",
    shardingConfig: {
      ...sharding(c),
      runnerAddress: Option.some(RunnerAddress.make(c.runnerHost, port)),
      runnerListenAddress: Option.some(RunnerAddress.make(Option.getOrElse(c.listenHost, () => c.runnerHost), port))
    }
  })
}))
