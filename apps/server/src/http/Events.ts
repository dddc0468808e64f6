/**
 * The event stream (Server-Sent Events) and its long-poll twin.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { EventBatch, TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { collect, sseBody } from "@troupe/feed/Delivery"
import { Feed, parseCursor } from "@troupe/feed/Feed"
import { eventsDelivered, sseConnections } from "@troupe/feed/FeedMetrics"
import { orUnavailable } from "@troupe/workspace/Unavailable"
import { Duration, Effect, Metric, Stream } from "effect"
import { ServerConfig } from "../ServerConfig.js"

/** The events group. */
export const EventsLive = HttpApiBuilder.group(TroupeApi, "events", (handlers) =>
  Effect.gen(function*() {
    const feed = yield* Feed
    const config = yield* ServerConfig
    const pollDelivered = Metric.tagged(eventsDelivered, "transport", "poll")
    yield* Metric.modify(sseConnections, 0)
    return handlers
      .handle("stream", ({ headers, urlParams }) =>
        Effect.gen(function*() {
          const { credential, user } = yield* CurrentUser
          const cursor = parseCursor(headers["last-event-id"] ?? urlParams.after)
          const body = Stream.unwrapScoped(Effect.gen(function*() {
            const subscription = yield* orUnavailable(
              feed.subscribe({ userId: user.id, credential }, cursor, {
                skipEmpty: true,
                heartbeatMs: Duration.toMillis(config.heartbeat)
              })
            )
            yield* Effect.acquireRelease(Metric.increment(sseConnections), () => Metric.modify(sseConnections, -1))
            const presence = yield* feed.connected(user.id)
            return sseBody(subscription, { onHeartbeat: presence.refresh })
          }))
          return HttpServerResponse.stream(body, {
            contentType: "text/event-stream",
            headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "keep-alive" }
          })
        }))
      .handle("poll", ({ urlParams }) =>
        Effect.gen(function*() {
          const { credential, user } = yield* CurrentUser
          const cursor = parseCursor(urlParams.after)
          return yield* Effect.scoped(Effect.gen(function*() {
            const subscription = yield* orUnavailable(
              feed.subscribe({ userId: user.id, credential }, cursor, { backlogLimit: urlParams.limit ?? 500 })
            )
            const { cursor: reached, events } = yield* collect(subscription, urlParams.timeoutMs ?? 25_000)
            yield* Metric.incrementBy(pollDelivered, events.length)
            return new EventBatch({ events, cursor: String(reached) })
          }))
        }))
  }))
