/**
 * How events leave a node: as Server-Sent Events (encoded with
 * `@effect/experimental`'s `Sse` encoder) and as long-poll batches.
 */
import * as Sse from "@effect/experimental/Sse"
import { Delivered, Event } from "@troupe/domain/Event"
import { Duration, Effect, Metric, Option, Schema, Stream } from "effect"
import type { Subscription } from "./Feed.js"
import { eventsDelivered } from "./FeedMetrics.js"

const encodeEvent = Schema.encodeSync(Event)
const eventJson = new WeakMap<Event, string>()
const frames = new WeakMap<Delivered, string>()
const frameBytes = new WeakMap<Delivered, Uint8Array>()
const utf8 = new TextEncoder()

/** The JSON of a delivered event; its payload encoded once per node, however many subscribers receive it. */
const dataOf = (delivered: Delivered) => {
  let event = eventJson.get(delivered.event)
  if (event === undefined) {
    event = JSON.stringify(encodeEvent(delivered.event))
    eventJson.set(delivered.event, event)
  }
  return `{"id":${JSON.stringify(delivered.id)},"orgId":${JSON.stringify(delivered.orgId)},"at":${
    JSON.stringify(delivered.at.toISOString())
  },"event":${event}}`
}

/**
 * Encodes one event as an SSE frame. A durable event is one object shared by
 * every subscriber on the node, so its frame is built once; an ephemeral
 * event's payload is encoded once and only its per-subscriber id varies.
 */
export const sseFrame = (delivered: Delivered): string => {
  const cached = frames.get(delivered)
  if (cached !== undefined) return cached
  const frame = Sse.encoder.write({
    _tag: "Event",
    id: delivered.id,
    event: delivered.event.type,
    data: dataOf(delivered)
  })
  frames.set(delivered, frame)
  return frame
}

/** An event's SSE frame as bytes, encoded once per node for a durable event. */
const bytesOf = (delivered: Delivered): Uint8Array => {
  let bytes = frameBytes.get(delivered)
  if (bytes === undefined) {
    bytes = utf8.encode(sseFrame(delivered))
    frameBytes.set(delivered, bytes)
  }
  return bytes
}

/** The frames of a step's events as one chunk of bytes: one write to the socket however many events. */
const stepBytes = (events: ReadonlyArray<Delivered>): Uint8Array => {
  const [only] = events
  if (events.length === 1 && only !== undefined) return bytesOf(only)
  const parts = events.map(bytesOf)
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** How long a client waits before reconnecting a broken stream (the SSE `retry` field). */
const RECONNECT = Duration.seconds(2)

const sseDelivered = Metric.tagged(eventsDelivered, "transport", "sse")

const keepAlive = utf8.encode(": keep-alive\n\n")

/**
 * A subscription as the body of an SSE response: first the handshake (the
 * `retry` field and a `: ready <position>` comment, sent once the subscription
 * is open, so a client that waits for it misses nothing), then the events,
 * a chunk per step, and a `: keep-alive` comment for each heartbeat step
 * (running `onHeartbeat`); subscribe with `heartbeatMs` for those. It ends
 * after a final event (`access.revoked`). One stream of steps, nothing merged
 * into it: merging a timer's stream cost more CPU per delivery than all the
 * rest of the body.
 */
export const sseBody = (subscription: Subscription, options: {
  readonly onHeartbeat: Effect.Effect<void>
}): Stream.Stream<Uint8Array> => {
  const handshake = utf8.encode(`retry: ${Duration.toMillis(RECONNECT)}\n: ready ${subscription.startedAt}\n\n`)
  const steps = subscription.initial.events.length > 0
    ? Stream.concat(Stream.make(subscription.initial), subscription.live)
    : subscription.live
  const events = steps.pipe(
    Stream.mapEffect((step) =>
      step.heartbeat === true
        ? Effect.as(options.onHeartbeat, keepAlive)
        : Effect.as(Metric.incrementBy(sseDelivered, step.events.length), stepBytes(step.events))
    )
  )
  return Stream.concat(Stream.make(handshake), events)
}

/** Events gathered for one long-poll, and the cursor to pass on the next. */
export interface Collected {
  readonly events: ReadonlyArray<Delivered>
  readonly cursor: number
}

/**
 * Collects events for a long-poll. The subscription's initial step (a reset,
 * the backlog) is answered at once; otherwise it waits up to `timeout` for a
 * step with events, then takes what else arrives within 25 ms. Steps are
 * taken whole or not at all, so the cursor never passes an event that was
 * not returned, whatever the timeout; when nothing is pending for the reader
 * it moves on to the node's tail, so the next poll does not read again what
 * the reader may not see.
 */
export const collect = (subscription: Subscription, timeout: Duration.DurationInput) =>
  Effect.scoped(Effect.gen(function*() {
    const events: Array<Delivered> = [...subscription.initial.events]
    let cursor = subscription.initial.position
    if (events.length > 0 || subscription.initial.final) return { events, cursor } satisfies Collected
    const pull = yield* Stream.toPull(subscription.live)
    const deadline = Date.now() + Duration.toMillis(Duration.decode(timeout))
    let settleBy = Number.POSITIVE_INFINITY
    while (true) {
      const left = Math.min(deadline, settleBy) - Date.now()
      if (left <= 0) break
      const next = yield* pull.pipe(Effect.timeout(left), Effect.option)
      if (Option.isNone(next)) break
      for (const s of next.value) {
        events.push(...s.events)
        cursor = s.position
      }
      if (events.length > 0 && settleBy === Number.POSITIVE_INFINITY) settleBy = Date.now() + 25
    }
    // Nothing the reader may see is pending: the next poll starts from what the node has passed.
    cursor = Math.max(cursor, yield* subscription.reached)
    return { events, cursor } satisfies Collected
  }))
