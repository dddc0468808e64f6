/**
 * The Troupe server node. With no configuration it runs everything in one
 * process: an embedded PostgreSQL (data in `.troupe/`), an in-process event
 * bus and rate limiter. Telemetry (log format, trace export) is set up first,
 * so everything after it logs and traces through it.
 */
import { HttpServerError } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import * as Database from "@troupe/store/Database"
import { Cause, Config, Console, Effect, Layer, Option } from "effect"
import { Role } from "./Cluster.js"
import { createHttpServer } from "./http/NodeServer.js"
import { HttpLive, RunnerLive } from "./Server.js"
import { ServerConfig } from "./ServerConfig.js"
import { TelemetryLive } from "./Telemetry.js"

const Banner = Layer.effectDiscard(Effect.gen(function*() {
  const config = yield* ServerConfig
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${config.port}`
  yield* Effect.logInfo([
    `Troupe is running at ${url}`,
    `  API docs:  ${url}/docs`,
    `  Sign up:   curl -X POST ${url}/v1/auth/signup -H 'content-type: application/json' \\`,
    `               -d '{"email":"you@example.com","password":"a long password","name":"You"}'`
  ].join("\n"))
}))

const NodeServerLive = Layer.unwrapEffect(Effect.map(
  Config.all({
    port: Config.integer("PORT").pipe(Config.withDefault(8787)),
    host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
  }),
  ({ host, port }) => NodeHttpServer.layer(createHttpServer, { port, host })
))

/** What this node serves, by `TROUPE_ROLE`: the API (`all`, `api`) or only teammate entities (`runner`). */
const RoleLive = Layer.unwrapEffect(
  Effect.map(Role, (role) => role === "runner" ? RunnerLive : Banner.pipe(Layer.provideMerge(HttpLive)))
)

const MainLive = RoleLive.pipe(
  Layer.provide(NodeServerLive),
  Layer.provide(Database.layerConfig),
  Layer.provide(TelemetryLive)
)

/**
 * A start-up failure a person can fix, in one sentence: the data folder or
 * the port is taken, the database cannot be reached. Undefined for anything
 * else, which is reported in full.
 */
const explain = (cause: Cause.Cause<unknown>): string | undefined => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return undefined
  const error = failure.value
  if (error instanceof Database.DatabaseStartError) return error.message
  if (error instanceof HttpServerError.ServeError) {
    const code = typeof error.cause === "object" && error.cause !== null && "code" in error.cause
      ? error.cause.code
      : undefined
    if (code === "EADDRINUSE") {
      return "the HTTP port is already in use (another Troupe, or another program); stop it, or set PORT"
    }
    if (code === "EACCES") {
      return "the HTTP port needs privileges this process does not have; set PORT to one above 1024"
    }
  }
  return undefined
}

Layer.launch(MainLive).pipe(
  Effect.tapErrorCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.void
    const reason = explain(cause)
    return reason === undefined
      ? Effect.logError("Troupe stopped", cause)
      : Console.error(`Troupe could not start: ${reason}`)
  }),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
