import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import * as Database from "@troupe/store/Database"
import { Effect, Fiber, Layer, Option } from "effect"
import { createServer } from "node:http"
import * as Net from "node:net"
import { routeOf } from "../src/Metrics.js"
import { contentType } from "../src/Prometheus.js"
import { RunnerLive } from "../src/Server.js"
import { baseUrl, eventually, person, raw, readEvents, slug, testConfig, TestServerWithModel } from "./Harness.js"

/** The value of the series `series` (name and labels, exactly as rendered), if present. */
const valueOf = (text: string, series: string): Option.Option<number> => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? Option.none() : Option.some(Number(line.slice(series.length + 1)))
}

const scrape = Effect.map(raw("GET", "/metrics"), (r) => {
  expect(r.status).toBe(200)
  return r
})

/** Scrapes until `series` has a value that satisfies `ok`, and returns the scrape. */
const scrapeUntil = (series: string, ok: (n: number) => boolean) =>
  eventually(
    Effect.map(scrape, (r) => Option.filter(valueOf(r.text, series), ok).pipe(Option.as(r.text))),
    "20 seconds"
  )

const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A runner node (`TROUPE_ROLE=runner`) on its own database, answering HTTP on a random port. */
const TestRunner = Layer.unwrapEffect(Effect.map(freePort, (port) =>
  RunnerLive.pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(Database.layerTest),
    Layer.provide(testConfig({ TROUPE_ROLE: "runner", CLUSTER_RUNNER_PORT: String(port) }))
  )))

describe("route labels", () => {
  // Taken from the contract, not from the router's span: they hold when no spans are made (no trace exporter).
  it("are the contract's route patterns, by method, with ids and query strings left out", () => {
    expect(routeOf("POST", "/v1/rooms/0b7c/messages?x=1")).toBe("/v1/rooms/:room/messages")
    expect(routeOf("GET", "/v1/rooms/0b7c/messages/9f2a")).toBe("/v1/rooms/:room/messages/:message")
    expect(routeOf("GET", "/v1/events/poll?after=3")).toBe("/v1/events/poll")
    expect(routeOf("GET", "/metrics")).toBe("/metrics")
    expect(routeOf("GET", "/v1/openapi.json")).toBe("/v1/openapi.json")
  })

  it("are `unmatched` for unknown paths, extra segments and methods a path does not answer", () => {
    expect(routeOf("GET", "/no/such/path/12345")).toBe("unmatched")
    expect(routeOf("GET", "/v1/rooms/0b7c/messages/9f2a/extra")).toBe("unmatched")
    expect(routeOf("DELETE", "/v1/events/poll")).toBe("unmatched")
    expect(routeOf("GET", "/v1/rooms//messages")).toBe("unmatched")
  })
})

describe("metrics on a runner node", () => {
  layer(TestRunner, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("GET /metrics answers Prometheus text with the probes it served and the shards it holds", () =>
      Effect.gen(function*() {
        yield* HttpServer.HttpServer
        expect((yield* raw("GET", "/health/live")).status).toBe(200)
        const text = yield* scrapeUntil("effect_cluster_shards", (n) => n > 0)
        const response = yield* scrape
        expect(response.headers.get("content-type")).toBe(contentType)
        expect(valueOf(text, `troupe_http_requests_total{method="GET",route="/health/live",status="200"}`)).toEqual(
          Option.some(1)
        )
        expect(text).toContain("# TYPE effect_cluster_shards gauge")
        expect(response.text).toMatch(
          /^troupe_http_requests_total\{method="GET",route="\/metrics",status="200"\} \d+$/m
        )
      }))
  })
})

describe("metrics on an API node", () => {
  layer(TestServerWithModel(), { excludeTestServices: true, timeout: 300_000 })((it) => {
    it.effect("GET /metrics shows requests, turns, model calls and tokens, queued triggers, SSE connections, events and shards", () =>
      Effect.gen(function*() {
        const ana = yield* person("Ana")
        const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
        const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        const teammate = yield* ana.api.teammates.hire({
          path: { org: org.id },
          payload: { template: "researcher", handle: "rhea" }
        })
        yield* ana.api.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: teammate.id } })
        const { position } = yield* ana.api.rooms.list({ path: { org: org.id } })

        const before = yield* scrape
        expect(before.headers.get("content-type")).toBe(contentType)
        expect(valueOf(before.text, "troupe_sse_connections")).toEqual(Option.some(0))

        const replies = yield* readEvents({
          baseUrl: yield* baseUrl,
          token: ana.token,
          lastEventId: position,
          count: 2,
          keep: (d) => d.event.type === "message.created" && d.event.message.authorKind === "teammate",
          timeout: "20 seconds"
        }).pipe(Effect.fork)
        yield* scrapeUntil("troupe_sse_connections", (n) => n === 1)
        yield* scrapeUntil("troupe_feed_subscriptions", (n) => n === 1)

        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "@rhea first [[slow:300]]" } })
        // The first turn is streaming once its first delta reaches the stream.
        const delta = yield* readEvents({
          baseUrl: yield* baseUrl,
          token: ana.token,
          lastEventId: position,
          count: 1,
          keep: (d) => d.event.type === "message.delta"
        })
        expect(delta).toHaveLength(1)
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "@rhea second" } })
        // While the first turn streams, the second trigger waits in the teammate's queue.
        yield* scrapeUntil("troupe_teammate_queued_triggers", (n) => n === 1)
        expect(yield* Fiber.join(replies)).toHaveLength(2)

        const text = yield* scrapeUntil(`troupe_turn_duration_seconds_count{outcome="ok"}`, (n) => n >= 2)
        expect(valueOf(text, `troupe_http_requests_total{method="POST",route="/v1/rooms/:room/messages",status="201"}`))
          .toEqual(Option.some(2))
        expect(text).toContain("# TYPE troupe_http_request_duration_seconds histogram")
        expect(
          valueOf(text, `troupe_http_request_duration_seconds_count{method="POST",route="/v1/rooms/:room/messages"}`)
        )
          .toEqual(Option.some(2))
        expect(text).toContain("# TYPE troupe_turn_duration_seconds histogram")
        expect(valueOf(text, `troupe_turn_duration_seconds_bucket{outcome="ok",le="+Inf"}`)).toEqual(Option.some(2))
        expect(valueOf(text, `troupe_model_request_duration_seconds_count{model="gpt-4o-mini",outcome="ok"}`)).toEqual(
          Option.some(2)
        )
        for (const type of ["input", "output"]) {
          expect(
            Option.getOrElse(valueOf(text, `troupe_model_tokens_total{model="gpt-4o-mini",type="${type}"}`), () => 0)
          )
            .toBeGreaterThan(0)
        }
        expect(text).toContain("# TYPE troupe_model_tokens_total counter")
        expect(Option.getOrElse(valueOf(text, `troupe_events_published_total{kind="durable"}`), () => 0))
          .toBeGreaterThan(0)
        expect(Option.getOrElse(valueOf(text, `troupe_events_published_total{kind="ephemeral"}`), () => 0))
          .toBeGreaterThan(0)
        expect(Option.getOrElse(valueOf(text, `troupe_events_delivered_total{transport="sse"}`), () => 0))
          .toBeGreaterThan(0)
        expect(Option.getOrElse(valueOf(text, "effect_cluster_shards"), () => 0)).toBeGreaterThan(0)
        expect(text).toMatch(/^troupe_http_requests_total\{method="GET",route="\/metrics",status="200"\} \d+$/m)

        yield* scrapeUntil("troupe_teammate_queued_triggers", (n) => n === 0)
        yield* scrapeUntil("troupe_sse_connections", (n) => n === 0)
        // Closed streams leave nothing behind for the node to route events to.
        yield* scrapeUntil("troupe_feed_subscriptions", (n) => n === 0)

        const poll = yield* raw("GET", `/v1/events/poll?after=${position}&timeoutMs=1000`, { token: ana.token })
        expect(poll.status).toBe(200)
        const delivered = yield* scrapeUntil(`troupe_events_delivered_total{transport="poll"}`, (n) => n > 0)
        expect(delivered).toMatch(
          /^troupe_http_requests_total\{method="GET",route="\/v1\/events\/poll",status="200"\} 1$/m
        )
      }))

    it.effect("unknown paths are counted under one route label", () =>
      Effect.gen(function*() {
        expect((yield* raw("GET", "/no/such/path/12345")).status).toBe(404)
        const text = yield* scrapeUntil(
          `troupe_http_requests_total{method="GET",route="unmatched",status="404"}`,
          (n) => n >= 1
        )
        expect(text).not.toContain("12345")
      }))
  })
})
