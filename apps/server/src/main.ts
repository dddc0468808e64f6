/**
 * The Troupe server node. With no configuration it runs everything in one
 * process: an embedded PostgreSQL (data in `.troupe/`), an in-process event
 * bus and rate limiter. Telemetry (log format, trace export) is set up first,
 * so everything after it logs and traces through it.
 */
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import * as Database from "@troupe/store/Database"
import { Config, Effect, Layer } from "effect"
import { Role } from "./Cluster.js"
import { HttpLive, RunnerLive } from "./Server.js"
import { ServerConfig } from "./ServerConfig.js"
import { TelemetryLive } from "./Telemetry.js"
import { createHttpServer } from "./http/NodeServer.js"

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
  Config.all({ port: Config.integer("PORT").pipe(Config.withDefault(8787)), host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1")) }),
  ({ host, port }) => NodeHttpServer.layer(createHttpServer, { port, host })
))

/** What this node serves, by `TROUPE_ROLE`: the API (`all`, `api`) or only teammate entities (`runner`). */
const RoleLive = Layer.unwrapEffect(Effect.map(Role, (role) => role === "runner" ? RunnerLive : Banner.pipe(Layer.provideMerge(HttpLive))))

const MainLive = RoleLive.pipe(
  Layer.provide(NodeServerLive),
  Layer.provide(Database.layerConfig),
  Layer.provide(TelemetryLive)
)

Layer.launch(MainLive).pipe(NodeRuntime.runMain)
