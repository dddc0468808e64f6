import { describe, expect, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { baseUrl, messageTexts, person, readEvents, slug, TestServer } from "./Harness.js"

describe("embedded PostgreSQL default", () => {
  layer(TestServer({ TROUPE_TEST_EMBEDDED: "true" }), { excludeTestServices: true, timeout: 180_000 })((it) => {
    it.effect("keeps every message, de-duplicates retries, and streams all of them in order under concurrent load", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const ana = yield* person("Ana")
        const ben = yield* person("Ben")
        const org = yield* ana.api.orgs.create({ payload: { name: "Embedded", slug: slug() } })
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
        const rooms = yield* Effect.all(
          [1, 2, 3].map((i) => ana.api.rooms.create({ path: { org: org.id }, payload: { name: `r${i}` } }))
        )
        for (const room of rooms) yield* ben.api.rooms.join({ path: { room: room.id } })
        const { position } = yield* ben.api.rooms.list({ path: { org: org.id } })
        const total = 90
        const reader = yield* readEvents({
          baseUrl: url,
          token: ben.token,
          lastEventId: position,
          count: total,
          keep: (d) => d.event.type === "message.created",
          timeout: "60 seconds"
        }).pipe(Effect.fork)
        // Every message is sent twice with the same client id, concurrently.
        const sends = Array.from(
          { length: total },
          (_, i) => ({ room: rooms[i % 3]!, text: `m${i}`, clientMessageId: `k${i}` })
        )
        const results = yield* Effect.all(
          [...sends, ...sends].map((s) =>
            ana.api.messages.post({
              path: { room: s.room.id },
              payload: { text: s.text, clientMessageId: s.clientMessageId }
            })
          ),
          { concurrency: 16 }
        )
        expect(new Set(results.map((m) => m.id)).size).toBe(total)
        const streamed = yield* Fiber.join(reader)
        expect(new Set(messageTexts(streamed))).toEqual(new Set(sends.map((s) => s.text)))
        const ids = streamed.map((d) => Number(d.id))
        expect(ids).toEqual([...ids].sort((x, y) => x - y))
        for (const room of rooms) {
          const page = yield* ben.api.messages.list({ path: { room: room.id }, urlParams: { limit: 200 } })
          expect(page.messages).toHaveLength(total / 3)
          const seqs = page.messages.map((m) => m.seq)
          expect(seqs).toEqual(Array.from({ length: total / 3 }, (_, i) => i + 1))
        }
      }))
  })
})
