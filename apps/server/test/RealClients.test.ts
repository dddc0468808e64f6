/**
 * What a new user and real clients ran into: a long-poll that skipped events
 * with a short timeout, deltas ahead of their run, teammates that could not
 * be removed from a room, mentions that silently went nowhere, and requests
 * answered by nobody while the server started.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as EventStream from "@troupe/client/EventStream"
import type { Delivered } from "@troupe/domain/Event"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { request } from "node:http"
import { createHttpServer } from "../src/http/NodeServer.js"
import { anaAndBen, baseUrl, messageTexts, portOf, raw, TestServer } from "./Harness.js"

/** Follows long-poll cursors from `after` with one `timeoutMs` until `done` holds for what was gathered. */
const followPolls = (
  poll: (
    after: string
  ) => Effect.Effect<{ readonly events: ReadonlyArray<Delivered>; readonly cursor: string }, unknown>,
  after: string,
  done: (events: ReadonlyArray<Delivered>) => boolean
) =>
  Effect.gen(function*() {
    const gathered: Array<Delivered> = []
    let cursor = after
    for (let i = 0; i < 500 && !done(gathered); i++) {
      const batch = yield* poll(cursor)
      gathered.push(...batch.events)
      expect(Number(batch.cursor)).toBeGreaterThanOrEqual(Number(cursor))
      cursor = batch.cursor
    }
    return gathered
  })

describe("what real clients rely on", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a long-poll with any timeoutMs from 0 up never moves its cursor past an event it did not return", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* anaAndBen
        const { position } = yield* ben.api.rooms.list({ path: { org: org.id } })
        const texts = Array.from({ length: 12 }, (_, i) => `m${i}`)
        for (const text of texts) yield* ana.api.messages.post({ path: { room: room.id }, payload: { text } })
        for (const timeoutMs of [0, 1, 2, 3, 5, 10, 25, 50, 100, 250]) {
          const got = yield* followPolls(
            (after) => ben.api.events.poll({ urlParams: { after, timeoutMs } }),
            position,
            (events) => messageTexts(events).length >= texts.length
          )
          expect(messageTexts(got), `timeoutMs=${timeoutMs}`).toEqual(texts)
        }
        for (const timeoutMs of [0, 1, 10]) {
          const bad = yield* ben.api.events.poll({ urlParams: { after: "not-a-cursor", timeoutMs } })
          expect(bad.events.map((d) => d.event.type), `timeoutMs=${timeoutMs}`).toEqual(["reset"])
          const ahead = yield* ben.api.events.poll({ urlParams: { after: "99999999", timeoutMs } })
          expect(ahead.events.map((d) => d.event.type)).toEqual(["reset"])
        }
      }))

    it.effect("a teammate's deltas never reach a stream before its run.started and busy teammate.updated", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* anaAndBen
        const rhea = yield* ana.api.teammates.hire({
          path: { org: org.id },
          payload: { template: "researcher", handle: "rhea" }
        })
        yield* ana.api.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: rhea.id } })
        const { position } = yield* ana.api.rooms.list({ path: { org: org.id } })
        const runs = 3
        const stream = yield* EventStream.open({ baseUrl: yield* baseUrl, token: ana.token, lastEventId: position })
          .pipe(
            Stream.takeUntil((() => {
              let completed = 0
              return (d: Delivered) => d.event.type === "run.completed" && ++completed === runs
            })()),
            Stream.runCollect,
            Effect.map(Chunk.toReadonlyArray),
            Effect.timeout("30 seconds"),
            Effect.fork
          )
        for (let i = 0; i < runs; i++) {
          yield* ana.api.messages.post({
            path: { room: room.id },
            payload: { text: `@rhea tell me about topic ${i} in some detail` }
          })
        }
        const got = yield* Fiber.join(stream)
        const deltas = got.filter((d) => d.event.type === "message.delta")
        expect(deltas.length).toBeGreaterThan(0)
        for (const [i, d] of got.entries()) {
          if (d.event.type !== "message.delta") continue
          const runId = d.event.runId
          const before = got.slice(0, i)
          expect(before.some((e) => e.event.type === "run.started" && e.event.run.id === runId), "run.started first")
            .toBe(true)
          expect(
            before.some((e) => e.event.type === "teammate.updated" && e.event.busy && e.event.teammate.id === rhea.id),
            "busy first"
          ).toBe(true)
        }
      }))

    it.effect("a teammate can be removed from a room; a mention of a teammate not in the room tells its author", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* anaAndBen
        const rhea = yield* ana.api.teammates.hire({
          path: { org: org.id },
          payload: { template: "researcher", handle: "rhea" }
        })
        yield* ana.api.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: rhea.id } })
        const { position } = yield* ana.api.rooms.list({ path: { org: org.id } })
        const removed = yield* raw("DELETE", `/v1/rooms/${room.id}/members/${rhea.id}`, { token: ben.token })
        expect(removed.status, removed.text).toBe(204)
        const members = yield* ana.api.rooms.members({ path: { room: room.id } })
        expect(members.map((m) => m.id)).not.toContain(rhea.id)
        const again = yield* raw("DELETE", `/v1/rooms/${room.id}/members/${rhea.id}`, { token: ben.token })
        expect(again.status).toBe(404)

        const asked = yield* ana.api.messages.post({
          path: { room: room.id },
          payload: { text: "@rhea are you there?" }
        })
        const read = (token: string, until: (d: Delivered) => boolean) =>
          Effect.flatMap(baseUrl, (url) =>
            EventStream.open({ baseUrl: url, token, lastEventId: position }).pipe(
              Stream.takeUntil(until),
              Stream.runCollect,
              Effect.map(Chunk.toReadonlyArray),
              Effect.timeout("15 seconds")
            ))
        // The notice comes from the outbox once it has read the message.
        const anas = yield* read(ana.token, (d) => d.event.type === "mention.unanswered")
        expect(anas.find((d) => d.event.type === "member.left")?.event).toMatchObject({ memberId: rhea.id })
        expect(anas.at(-1)?.event).toMatchObject({ messageId: asked.id, teammateId: rhea.id, handle: "rhea" })
        // Posted after the notice, so Ben's stream has passed the notice's position when it reaches the marker.
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "marker" } })
        const bens = yield* read(
          ben.token,
          (d) => d.event.type === "message.created" && d.event.message.text === "marker"
        )
        expect(bens.some((d) => d.event.type === "mention.unanswered")).toBe(false)
        const runs = yield* ana.api.teammates.runs({ path: { org: org.id, teammate: rhea.id }, urlParams: {} })
        expect(runs).toEqual([])
      }))

    it.effect("unknown routes answer a JSON 404", () =>
      Effect.gen(function*() {
        for (const [method, path] of [["GET", "/v1/nowhere"], ["POST", "/nothing"], ["DELETE", "/v1/orgs"]] as const) {
          const res = yield* raw(method, path)
          expect(res.status, path).toBe(404)
          expect(res.json).toMatchObject({ _tag: "NotFound", message: expect.stringContaining(path) })
        }
      }))
  })
})

describe("the HTTP server before and after the application is attached", () => {
  const get = (port: number) =>
    Effect.async<{ status: number; retryAfter: string | undefined; body: string }>((resume) => {
      request({ host: "127.0.0.1", port, path: "/v1/auth/me" }, (res) => {
        let body = ""
        res.on("data", (chunk: Buffer) => body += chunk.toString())
        res.on(
          "end",
          () => resume(Effect.succeed({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], body }))
        )
      }).end()
    })

  it.scoped("answers 503 with Retry-After until the handler is attached, then the handler answers", () =>
    Effect.gen(function*() {
      const server = createHttpServer()
      const port = yield* Effect.acquireRelease(
        Effect.async<number>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(portOf(server.address()))))
        }),
        () =>
          Effect.async<void>((resume) => {
            server.close(() => resume(Effect.void))
          })
      )
      const early = yield* get(port)
      expect(early.status).toBe(503)
      expect(early.retryAfter).toBe("1")
      expect(JSON.parse(early.body)).toMatchObject({ _tag: "Unavailable" })
      const handler = (_: unknown, res: import("node:http").ServerResponse) => res.end("served")
      server.on("request", handler)
      const served = yield* get(port)
      expect([served.status, served.body]).toEqual([200, "served"])
      server.off("request", handler)
      expect((yield* get(port)).status).toBe(503)
    }))
})
