/**
 * The SSE reader against a local server that writes the stream in awkward
 * pieces: the handshake, frames split mid-line and joined with the
 * handshake, keep-alive comments, and failures.
 */
import { describe, expect, it } from "@effect/vitest"
import * as EventStream from "@troupe/client/EventStream"
import { Chunk, Effect, Stream } from "effect"
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** The port a listening server took (0 before it listens). */
const portOf = (address: AddressInfo | string | null) =>
  typeof address === "object" && address !== null ? address.port : 0

const frame = (id: number, reason: string) =>
  `id: ${id}\nevent: reset\ndata: ${
    JSON.stringify({ id: String(id), orgId: null, at: new Date(0).toISOString(), event: { type: "reset", reason } })
  }\n\n`

/** A server that answers `/v1/events` by writing `pieces` one by one, then ending (or not). */
const serve = (write: (res: ServerResponse, lastEventId: string | undefined) => void) =>
  Effect.acquireRelease(
    Effect.async<{ url: string; close: () => void }>((resume) => {
      const server = createServer((req, res) => {
        const lastEventId = req.headers["last-event-id"]
        write(res, typeof lastEventId === "string" ? lastEventId : undefined)
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({
          url: `http://127.0.0.1:${portOf(server.address())}`,
          close: () => server.close()
        })))
    }),
    (s) => Effect.sync(() => s.close())
  )

const pieces = (res: ServerResponse, parts: ReadonlyArray<string>, end = true) => {
  res.writeHead(200, { "content-type": "text/event-stream" })
  for (const part of parts) res.write(part)
  if (end) res.end()
}

describe("the event stream reader", () => {
  it.scoped("waits for the handshake, then yields events however the bytes are split", () =>
    Effect.gen(function*() {
      const whole = frame(1, "one") + ": keep-alive\n\n" + frame(2, "two") + frame(3, "three")
      const server = yield* serve((res, lastEventId) => {
        expect(lastEventId).toBe("41")
        const cut = whole.length / 2
        pieces(res, ["retry: 2000\n: re", "ady 41\n\n" + whole.slice(0, 10), whole.slice(10, cut), whole.slice(cut)])
      })
      const connection = yield* EventStream.connect({ baseUrl: server.url, token: "t", lastEventId: "41" })
      expect(connection.position).toBe("41")
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(connection.events))
      expect(events.map((d) => [d.id, d.event.type === "reset" ? d.event.reason : ""])).toEqual([["1", "one"], [
        "2",
        "two"
      ], ["3", "three"]])
    }))

  it.scoped("refuses a stream that does not start with the handshake, and reports the server's refusal", () =>
    Effect.gen(function*() {
      const noHandshake = yield* serve((res) => pieces(res, [frame(1, "too early")]))
      const error = yield* Effect.flip(EventStream.connect({ baseUrl: noHandshake.url, token: "t" }))
      expect(error.message).toContain("handshake")
      const refused = yield* serve((res) => {
        res.writeHead(401, { "content-type": "application/json" })
        res.end(JSON.stringify({ _tag: "Unauthorized", message: "unknown token" }))
      })
      const unauthorized = yield* Effect.flip(EventStream.connect({ baseUrl: refused.url, token: "t" }))
      expect(unauthorized.status).toBe(401)
    }))

  // Live time: the reconnections wait on the real clock.
  it.scopedLive("follow: reconnects after the server closes or fails, with the last id read; ends at access.revoked", () =>
    Effect.gen(function*() {
      const revoked = (id: number) =>
        `id: ${id}\nevent: access.revoked\ndata: ${
          JSON.stringify({
            id: String(id),
            orgId: null,
            at: new Date(0).toISOString(),
            event: {
              type: "access.revoked",
              credential: "session",
              credentialId: "00000000-0000-4000-8000-000000000001",
              reason: "logged out"
            }
          })
        }\n\n`
      const seen: Array<string | undefined> = []
      const server = yield* serve((res, lastEventId) => {
        seen.push(lastEventId)
        switch (seen.length) {
          // The first connection: two events, then the server closes the stream (a restart).
          case 1:
            return pieces(res, [": ready 10\n\n", frame(11, "a"), frame(12, "b")])
          // A node stopping: 503, then a stream that breaks off after one event.
          case 2: {
            res.writeHead(503, { "content-type": "application/json" })
            return res.end(JSON.stringify({ _tag: "Unavailable", message: "stopping" }))
          }
          case 3:
            return pieces(res, [": ready 12\n\n", frame(13, "c")])
          default:
            return pieces(res, [": ready 13\n\n", frame(14, "d"), revoked(15), frame(16, "never read")], false)
        }
      })
      const reconnects: Array<string> = []
      const events = yield* EventStream.follow({
        baseUrl: server.url,
        token: "t",
        onReconnect: (reason) => Effect.sync(() => reconnects.push(reason))
      }).pipe(Stream.runCollect)
      expect(Chunk.toReadonlyArray(events).map((d) => d.id)).toEqual(["11", "12", "13", "14", "15"])
      // From now (no id), then each time after the last event read.
      expect(seen).toEqual([undefined, "12", "12", "13"])
      expect(reconnects).toHaveLength(3)
    }))

  it.scoped("follow: a first connection that fails, or a refusal, ends it with the error", () =>
    Effect.gen(function*() {
      const refused = yield* serve((res) => {
        res.writeHead(401, { "content-type": "application/json" })
        res.end(JSON.stringify({ _tag: "Unauthorized", message: "unknown token" }))
      })
      const error = yield* Effect.flip(Stream.runDrain(EventStream.follow({ baseUrl: refused.url, token: "t" })))
      expect(error.status).toBe(401)
    }))

  it.scopedLive("follow with firstFailure retry: a server that is down or busy at first is waited for; onConnected runs per connection", () =>
    Effect.gen(function*() {
      let answered = 0
      const server = yield* serve((res) => {
        answered += 1
        switch (answered) {
          case 1: {
            res.writeHead(503, { "content-type": "application/json" })
            return res.end(JSON.stringify({ _tag: "Unavailable", message: "starting" }))
          }
          case 2: {
            res.writeHead(429, { "content-type": "application/json", "retry-after": "1" })
            return res.end(JSON.stringify({ _tag: "RateLimited", message: "too many requests" }))
          }
          case 3:
            return pieces(res, [": ready 20\n\n", frame(21, "a")])
          default:
            return pieces(res, [": ready 21\n\n", frame(22, "b")], false)
        }
      })
      const connected: Array<number> = []
      const events = yield* EventStream.follow({
        baseUrl: server.url,
        token: "t",
        firstFailure: "retry",
        onConnected: Effect.sync(() => connected.push(answered))
      }).pipe(Stream.take(2), Stream.runCollect)
      expect(Chunk.toReadonlyArray(events).map((d) => d.id)).toEqual(["21", "22"])
      // Connected on the third answer and again on the fourth (after the close).
      expect(connected).toEqual([3, 4])
    }))

  it.scoped("a frame that is not an event fails the stream with a clear error", () =>
    Effect.gen(function*() {
      const server = yield* serve((res) => pieces(res, [": ready 1\n\n", "id: 2\nevent: x\ndata: {not json}\n\n"]))
      const connection = yield* EventStream.connect({ baseUrl: server.url, token: "t" })
      const error = yield* Effect.flip(Stream.runDrain(connection.events))
      expect(error.message).toBe("a frame is not an event")
    }))
})
