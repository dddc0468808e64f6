import { describe, expect, layer } from "@effect/vitest"
import { SpanKind } from "@opentelemetry/api"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Fiber, Layer, Logger, Option, Schema } from "effect"
import { jsonFormat, layerTracing } from "../src/Telemetry.js"
import { baseUrl, eventually, person, raw, readEvents, slug, TestServerWithTelemetry } from "./Harness.js"

/** A JSON log line: its message and annotations. */
const LogLine = Schema.decodeUnknownSync(Schema.parseJson(Schema.Struct({
  message: Schema.Unknown,
  annotations: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})))

const exporter = new InMemorySpanExporter()
const logLines: Array<string> = []

/** Spans kept in memory, and JSON log lines kept in an array (the format `LOG_FORMAT=json` writes). */
const TelemetryTest = layerTracing({ serviceName: "troupe-test", spanProcessor: new SimpleSpanProcessor(exporter) })
  .pipe(
    Layer.provide(Logger.add(Logger.map(jsonFormat, (line) => {
      logLines.push(line)
    })))
  )

const idOf = (s: ReadableSpan) => s.spanContext().spanId
const traceOf = (s: ReadableSpan) => s.spanContext().traceId

const parentOf = (spans: ReadonlyArray<ReadableSpan>, s: ReadableSpan) =>
  spans.find((p) => idOf(p) === s.parentSpanContext?.spanId)

/** The chain from `s`'s parent up to the root, nearest first. */
const ancestors = (spans: ReadonlyArray<ReadableSpan>, s: ReadableSpan) => {
  const out: Array<ReadableSpan> = []
  for (let p = parentOf(spans, s); p !== undefined; p = parentOf(spans, p)) out.push(p)
  return out
}

/** The server span of the request that posted a message to `roomId` (the one with `requestId`, if given). */
const postSpan = (roomId: string, requestId?: string) =>
  exporter.getFinishedSpans().find((s) =>
    s.kind === SpanKind.SERVER &&
    s.attributes["http.route"] === "/v1/rooms/:room/messages" &&
    s.attributes["url.path"] === `/v1/rooms/${roomId}/messages` &&
    s.attributes["http.request.method"] === "POST" &&
    (requestId === undefined || s.attributes["http.request_id"] === requestId)
  )

/**
 * Waits until the trace of `root` holds a span for every name in `names`, and
 * every span between a turn and `root` has ended (the entity's handler span
 * ends only once the turn settled), and returns the trace.
 */
const traceWith = (root: ReadableSpan, names: ReadonlyArray<string>) =>
  eventually(
    Effect.sync(() => {
      const spans = exporter.getFinishedSpans().filter((s) => traceOf(s) === traceOf(root))
      const complete = names.every((n) => spans.some((s) => s.name === n)) &&
        spans.filter((s) => s.name === "Turn.run").every((turn) =>
          ancestors(spans, turn).some((a) => idOf(a) === idOf(root))
        )
      return complete ? Option.some(spans) : Option.none()
    }),
    "20 seconds"
  )

const setup = Effect.gen(function*() {
  const ana = yield* person("Ana")
  const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
  const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
  const teammate = yield* ana.api.teammates.hire({
    path: { org: org.id },
    payload: { template: "researcher", handle: "rhea" }
  })
  yield* ana.api.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: teammate.id } })
  const { position } = yield* ana.api.rooms.list({ path: { org: org.id } })
  return { ana, room, position, url: yield* baseUrl }
})

describe("tracing", () => {
  layer(TestServerWithTelemetry(TelemetryTest), { excludeTestServices: true, timeout: 300_000 })((it) => {
    it.effect("one trace follows a message from the POST through the turn, the model call and a tool to the delivery of the reply", () =>
      Effect.gen(function*() {
        const s = yield* setup
        const reply = yield* readEvents({
          baseUrl: s.url,
          token: s.ana.token,
          lastEventId: s.position,
          count: 1,
          keep: (d) => d.event.type === "message.created" && d.event.message.authorKind === "teammate",
          timeout: "20 seconds"
        }).pipe(Effect.fork)
        yield* s.ana.api.messages.post({
          path: { room: s.room.id },
          payload: { text: `@rhea [[tool:remember:{"fact":"we ship on Friday"}]]` }
        })
        expect(yield* Fiber.join(reply)).toHaveLength(1)

        const post = yield* eventually(Effect.sync(() => Option.fromNullable(postSpan(s.room.id))))
        const spans = yield* traceWith(post, [
          "Turn.run",
          "Turn.context",
          "Tools.run",
          "OpenAIModel.stream",
          "Feed.deliver"
        ])
        const named = (name: string) => spans.filter((x) => x.name === name)

        const [turn] = named("Turn.run")
        expect(named("Turn.run")).toHaveLength(1)
        const chain = ancestors(spans, turn!)
        // Turn.run <- Teammate(<id>).Trigger (entity) <- Teammate.client.Trigger <- Dispatcher.send <- Dispatcher.dispatch
        //   <- Outbox.dispatch (on whichever runner holds the outbox) <- EventLog.append <- MessageRepo.post <- ... <- POST
        expect(chain[0]!.name).toMatch(/^Teammate\(.+\)\.Trigger$/)
        expect(chain.slice(1, 5).map((x) => x.name)).toEqual([
          "Teammate.client.Trigger",
          "Dispatcher.send",
          "Dispatcher.dispatch",
          "Outbox.dispatch"
        ])
        expect(chain[5]!.name).toBe("EventLog.append")
        expect(chain.map((x) => x.name)).toContain("MessageRepo.post")
        expect(chain.map(idOf)).toContain(idOf(post))

        expect(parentOf(spans, named("Turn.context")[0]!)?.name).toBe("Turn.run")
        const models = named("OpenAIModel.stream")
        expect(models).toHaveLength(2)
        for (const model of models) expect(ancestors(spans, model).map(idOf)).toContain(idOf(turn!))
        expect(ancestors(spans, named("Tools.run")[0]!).map(idOf)).toContain(idOf(turn!))

        // The reply's message.created event, appended inside the turn, delivered to Ana's stream on this node.
        const deliveries = named("Feed.deliver").filter((d) => d.attributes["event.type"] === "message.created")
        expect(deliveries.length).toBeGreaterThanOrEqual(1)
        const replyDelivery = deliveries.find((d) => ancestors(spans, d).some((a) => idOf(a) === idOf(turn!)))
        expect(replyDelivery).toBeDefined()
        expect(replyDelivery!.attributes["user.id"]).toBe(s.ana.user.id)
        expect(replyDelivery!.links).toHaveLength(1)
      }))

    it.effect("each message's turn joins the trace of its own request, not the one that woke the teammate first", () =>
      Effect.gen(function*() {
        const s = yield* setup
        const texts = ["@rhea first question", "@rhea second question"]
        for (const [i, text] of texts.entries()) {
          yield* raw("POST", `/v1/rooms/${s.room.id}/messages`, {
            token: s.ana.token,
            body: { text },
            headers: { "x-request-id": `turn-${i}-${s.room.id}` }
          })
          const post = yield* eventually(
            Effect.sync(() => Option.fromNullable(postSpan(s.room.id, `turn-${i}-${s.room.id}`)))
          )
          const spans = yield* traceWith(post, ["Turn.run", "OpenAIModel.stream"])
          const turns = spans.filter((x) => x.name === "Turn.run")
          expect(turns).toHaveLength(1)
          expect(ancestors(spans, turns[0]!).map(idOf)).toContain(idOf(post))
        }
      }))

    it.effect("the access log line carries the request id and the trace and span ids of the request", () =>
      Effect.gen(function*() {
        const s = yield* setup
        const requestId = `req-${s.room.id}`
        const response = yield* raw("POST", `/v1/rooms/${s.room.id}/messages`, {
          token: s.ana.token,
          body: { text: "no mention here" },
          headers: { "x-request-id": requestId }
        })
        expect(response.status).toBe(201)
        expect(response.headers.get("x-request-id")).toBe(requestId)
        const generated = yield* raw("GET", "/health/live")
        expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)

        const post = yield* eventually(Effect.sync(() => Option.fromNullable(postSpan(s.room.id, requestId))))
        const line = yield* eventually(Effect.sync(() =>
          Option.fromNullable(
            logLines
              .map((l) => LogLine(l))
              .find((l) => l.message === "Sent HTTP response" && l.annotations["requestId"] === requestId)
          )
        ))
        expect(line.annotations["http.status"]).toBe(201)
        expect(line.annotations["effect.traceId"]).toBe(traceOf(post))
        expect(line.annotations["effect.spanId"]).toBe(idOf(post))
      }))
  })
})
