/**
 * What the feed measures, in Effect's metric registry (served as Prometheus
 * text at `/metrics` by the server).
 */
import { Metric } from "effect"

/** Triggers waiting for a teammate (not counting the running turn), summed over teammates. */
export const queuedTriggers = Metric.gauge("troupe_teammate_queued_triggers", {
  description:
    "Triggers waiting for their teammate (excluding running turns), summed over teammates, as last announced in the event log since this node started; cluster-wide, so aggregate nodes with max()."
})

/** Open Server-Sent Events streams on this node. */
export const sseConnections = Metric.gauge("troupe_sse_connections", {
  description: "Open Server-Sent Events streams on this node."
})

/** Subscriptions (streams and long-polls) this node routes events to. */
export const feedSubscriptions = Metric.gauge("troupe_feed_subscriptions", {
  description: "Subscriptions (open streams and waiting long-polls) this node routes events to."
})

/** Events this node's feed took in for its subscribers, by `kind` (`durable` from the log, `ephemeral` from the bus). */
export const eventsPublished = Metric.counter("troupe_events_published_total", {
  description:
    "Events this node's feed took in and published to its subscribers, by kind (durable from the log, ephemeral from the bus).",
  incremental: true
})

/** Events sent to clients, by `transport` (`sse`, `poll`). */
export const eventsDelivered = Metric.counter("troupe_events_delivered_total", {
  description: "Events sent to clients, by transport (sse, poll).",
  incremental: true
})
