import { describe, expect, layer } from "@effect/vitest"
import * as EventStream from "@troupe/client/EventStream"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { baseUrl, person, slug, TestServer } from "./Harness.js"

describe("thin path", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("sign up, create a room, post, and see the message on the event stream", () =>
      Effect.gen(function*() {
        const ana = yield* person("Ana")
        const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
        expect(org.role).toBe("owner")
        const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        const listing = yield* ana.api.rooms.list({ path: { org: org.id } })
        const url = yield* baseUrl
        const stream = yield* EventStream.open({ baseUrl: url, token: ana.token, lastEventId: listing.position }).pipe(
          Stream.filter((d) => d.event.type === "message.created"),
          Stream.take(1),
          Stream.runCollect,
          Effect.fork
        )
        const posted = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "hello world" } })
        const received = Chunk.toReadonlyArray(yield* Fiber.join(stream).pipe(Effect.timeout("10 seconds")))
        expect(received).toHaveLength(1)
        const event = received[0]!.event
        expect(event.type).toBe("message.created")
        if (event.type === "message.created") {
          expect(event.message.id).toBe(posted.id)
          expect(event.message.text).toBe("hello world")
        }
      }))
  })
})
