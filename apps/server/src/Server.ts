/**
 * The HTTP server's layer graph: the contract's implementation, OpenAPI and
 * docs, over the store, the realtime bus and presence.
 */
import { ClusterWorkflowEngine } from "@effect/cluster"
import { RateLimiter } from "@effect/experimental"
import {
  HttpApiBuilder,
  HttpApiScalar,
  type HttpApp,
  HttpMiddleware,
  HttpRouter,
  HttpServer,
  HttpServerResponse
} from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { TroupeApi } from "@troupe/api/Api"
import { Feed } from "@troupe/feed/Feed"
import { Channels } from "@troupe/gateway/Channels"
import { Inbound } from "@troupe/gateway/Inbound"
import * as GatewayOutbound from "@troupe/gateway/Outbound"
import * as WebhookOutbox from "@troupe/gateway/WebhookOutbox"
import { Webhooks } from "@troupe/gateway/Webhooks"
import * as MeteredModel from "@troupe/llm/MeteredModel"
import * as ModelConfig from "@troupe/llm/ModelConfig"
import * as EventBus from "@troupe/realtime/EventBus"
import * as Realtime from "@troupe/realtime/Realtime"
import { LogWaker } from "@troupe/store/EventLog"
import * as Store from "@troupe/store/Store"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import * as Catalog from "@troupe/teammates/Catalog"
import { Dispatcher } from "@troupe/teammates/Dispatcher"
import * as Outbox from "@troupe/teammates/Outbox"
import * as Retention from "@troupe/teammates/Retention"
import * as Scheduler from "@troupe/teammates/Scheduler"
import * as TaskRunner from "@troupe/teammates/TaskRunner"
import * as TeammateRuntime from "@troupe/teammates/TeammateRuntime"
import { Accounts } from "@troupe/workspace/Accounts"
import { Avatars } from "@troupe/workspace/Avatars"
import { DataRights } from "@troupe/workspace/DataRights"
import { Files } from "@troupe/workspace/Files"
import { Invitations } from "@troupe/workspace/Invitations"
import * as Mailer from "@troupe/workspace/Mailer"
import { Messages } from "@troupe/workspace/Messages"
import { Oidc } from "@troupe/workspace/Oidc"
import { Orgs } from "@troupe/workspace/Orgs"
import { Pins } from "@troupe/workspace/Pins"
import { Rooms } from "@troupe/workspace/Rooms"
import { Schedules } from "@troupe/workspace/Schedules"
import { Tasks } from "@troupe/workspace/Tasks"
import { Teammates } from "@troupe/workspace/Teammates"
import { Effect, Layer } from "effect"
import { ClusterConfig, ClusterLive, hostsEntities } from "./Cluster.js"
import { AuthLive } from "./http/Auth.js"
import { ChannelsLive } from "./http/Channels.js"
import { DataRightsLive } from "./http/DataRights.js"
import { databaseLossUnavailable, ErrorShapeLive } from "./http/ErrorShape.js"
import { EventsLive } from "./http/Events.js"
import { AvatarsLive, FilesLive } from "./http/Files.js"
import { GatewayLive } from "./http/Gateway.js"
import { HealthLive } from "./http/Health.js"
import { InvitationsLive } from "./http/Invitations.js"
import { MessagesLive } from "./http/Messages.js"
import { AuthenticationLive, RequestGuardLive } from "./http/Middleware.js"
import { OrgsLive } from "./http/Orgs.js"
import { PinsLive } from "./http/Pins.js"
import { RoomsLive } from "./http/Rooms.js"
import { SchedulesLive } from "./http/Schedules.js"
import { TasksLive } from "./http/Tasks.js"
import { TeammatesLive } from "./http/Teammates.js"
import { WebAppLive } from "./http/WebApp.js"
import { WebhooksLive } from "./http/Webhooks.js"
import { metricsResponse, requestMetrics, untracedPaths } from "./Metrics.js"
import { requestId } from "./Telemetry.js"

/** After a commit that appended events, every node's readers of the log are woken through the bus, told how far it reached. */
const LogWakerLive = Layer.effect(LogWaker, Effect.map(EventBus.EventBus, (bus) => bus.wake))

/** Repositories over the SQL client. */
export const StoreLive = Store.layer

/** The catalog: curated templates plus the kinds defined in code. */
export const CatalogLive = Catalog.layerBuiltIn.pipe(Layer.provide(TeammateRepo.Default))

/**
 * Teammate entities, task workflows, the scheduler, the teammates' outbox, the
 * gateway's outboxes (to the platforms, to webhook endpoints) and the
 * retention jobs, on nodes that host entities.
 */
export const EntitiesLive = Layer.unwrapEffect(
  Effect.map(
    ClusterConfig,
    (c) =>
      hostsEntities(c)
        ? Layer.mergeAll(
          TeammateRuntime.layer,
          TaskRunner.layer,
          Scheduler.layer,
          Outbox.layer,
          GatewayOutbound.layer,
          WebhookOutbox.layer,
          Retention.layer
        )
        : Layer.empty
  )
)

/** Teammate entities (where hosted) and the dispatcher that sends them triggers, in this node's cluster. */
export const TeammatesRuntimeLive = EntitiesLive.pipe(
  Layer.provideMerge(Dispatcher.Default),
  Layer.provideMerge(ClusterWorkflowEngine.layer),
  Layer.provideMerge(ClusterLive)
)

/** Stores, realtime, model and catalog: what every role needs. */
export const FoundationLive = Layer.mergeAll(StoreLive, RateLimiter.layer, CatalogLive).pipe(
  Layer.provideMerge(LogWakerLive),
  Layer.provideMerge(Layer.merge(Realtime.layerConfig, MeteredModel.layer(ModelConfig.layerConfig)))
)

/** The workspace's use cases, which the HTTP handlers call. */
const WorkspaceLive = Layer.mergeAll(
  Accounts.Default,
  Oidc.Default,
  Orgs.Default,
  Invitations.Default,
  Rooms.Default,
  Messages.Default,
  Files.Default,
  Avatars.Default,
  Pins.Default,
  Tasks.Default,
  Schedules.Default,
  Teammates.Default,
  Channels.Default,
  Webhooks.Default,
  Inbound.Default,
  DataRights.Default
)

const ServicesLive = Layer.mergeAll(Feed.Default, WorkspaceLive).pipe(
  Layer.provideMerge(TeammatesRuntimeLive),
  Layer.provideMerge(FoundationLive)
)

/** The contract implemented, with OpenAPI at `/v1/openapi.json` and docs at `/docs`. */
export const ApiLive = HttpApiBuilder.api(TroupeApi).pipe(
  Layer.provide([
    HealthLive,
    AuthLive,
    OrgsLive,
    InvitationsLive,
    RoomsLive,
    MessagesLive,
    FilesLive,
    AvatarsLive,
    PinsLive,
    TeammatesLive,
    TasksLive,
    SchedulesLive,
    EventsLive,
    ChannelsLive,
    WebhooksLive,
    GatewayLive,
    DataRightsLive
  ]),
  Layer.provide([AuthenticationLive, RequestGuardLive]),
  Layer.provide(ServicesLive)
)

/**
 * What every request passes through, inside the server's span: an id, the
 * access log line (carrying the id, and trace ids in JSON logs) and metrics.
 */
const observed = <E, R>(app: HttpApp.Default<E, R>) =>
  requestId(HttpMiddleware.logger(requestMetrics(databaseLossUnavailable(app))))

/** Prometheus metrics at `/metrics`, next to the contract. */
const MetricsRouteLive = HttpApiBuilder.Router.use((router) => router.get("/metrics", metricsResponse))

/**
 * The HTTP app served by a platform `HttpServer`: the API, its docs,
 * `/metrics` and the web app. Needs a SQL client and a `Mailer`.
 */
export const HttpAppLive = HttpApiBuilder.serve(observed).pipe(
  HttpMiddleware.withTracerDisabledForUrls(untracedPaths),
  Layer.provide(MetricsRouteLive),
  Layer.provide(WebAppLive),
  Layer.provide(HttpApiScalar.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/v1/openapi.json" })),
  // Any origin may call the API with a bearer token (no cookies), and browser code may read the
  // headers it is told to act on: Retry-After on 429 and 503, and the request id to quote.
  Layer.provide(HttpApiBuilder.middlewareCors({ exposedHeaders: ["retry-after", "x-request-id"] })),
  Layer.provide(ErrorShapeLive),
  Layer.provide(ApiLive),
  HttpServer.withLogAddress
)

/** The HTTP app, with mail sent as configured (`SMTP_URL`, or the log). Needs a SQL client. */
export const HttpLive = HttpAppLive.pipe(Layer.provide(Mailer.layerConfig))

/**
 * A runner node: hosts teammate entities and answers only the health probes
 * and `/metrics` over HTTP (the API is served by `api` and `all` nodes).
 */
export const RunnerLive = HttpRouter.empty.pipe(
  HttpRouter.get("/metrics", metricsResponse),
  HttpRouter.get("/health/live", HttpServerResponse.json({ status: "ok" })),
  HttpRouter.get(
    "/health/ready",
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
      Effect.timeout("2 seconds"),
      Effect.flatMap(() => HttpServerResponse.json({ status: "ready", checks: { database: "ok" } })),
      Effect.catchAll(() =>
        HttpServerResponse.json({ message: "the database is not reachable", _tag: "Unavailable" }, { status: 503 })
      )
    )
  ),
  HttpServer.serve(observed),
  HttpMiddleware.withTracerDisabledForUrls(untracedPaths),
  HttpServer.withLogAddress,
  Layer.provide(TeammatesRuntimeLive),
  Layer.provide(FoundationLive)
)
