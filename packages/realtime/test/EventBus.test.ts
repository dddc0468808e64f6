/**
 * The bus carries wake-ups and ephemeral events between nodes: in one
 * process, and across processes through Redis (two buses on one Redis stand
 * for two nodes).
 */
import { describe, expect, it } from "@effect/vitest"
import { OrgId } from "@troupe/domain/Ids"
import * as EventBus from "@troupe/realtime/EventBus"
import { Chunk, Context, Deferred, Effect, Fiber, Layer, Redacted, Stream } from "effect"
import { randomBytes } from "node:crypto"

const redisUrl = Redacted.make(process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379")

/** Subscribes, signals once subscribed, then takes `n` items. */
const take = <A>(stream: Stream.Stream<A>, n: number) =>
  Effect.gen(function*() {
    const ready = yield* Deferred.make<void>()
    const fiber = yield* stream.pipe(
      Stream.onStart(Deferred.succeed(ready, undefined)),
      Stream.take(n),
      Stream.runCollect,
      Effect.map(Chunk.toReadonlyArray),
      Effect.fork
    )
    yield* Deferred.await(ready)
    return fiber
  })

const org = OrgId.make("00000000-0000-4000-8000-000000000001")
const ephemeral = (n: number) => ({ orgId: org, roomId: null, event: { type: "typing", n }, at: n, after: n })

describe("the event bus", () => {
  it.scoped("in one process: wake-ups (with the position reached) and ephemeral events reach every subscriber", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus.EventBus
      const wakes = yield* take(bus.wakes, 1)
      const events = yield* take(bus.ephemeral, 2)
      yield* bus.wake(41)
      yield* bus.publish(ephemeral(1))
      yield* bus.publish(ephemeral(2))
      expect(yield* Fiber.join(wakes)).toEqual([41])
      expect((yield* Fiber.join(events)).map((e) => e.at)).toEqual([1, 2])
    }).pipe(Effect.provide(EventBus.layerMemory)))

  it.scoped("over Redis: one node's wake-ups (with the position reached) and ephemeral events reach another's", () =>
    Effect.gen(function*() {
      const prefix = `troupe-test-${randomBytes(4).toString("hex")}:`
      // Each layer is ready once subscribed to its channels.
      const node = Effect.map(
        Layer.build(EventBus.layerRedis({ url: redisUrl, prefix })),
        (ctx) => Context.get(ctx, EventBus.EventBus)
      )
      const a = yield* node
      const b = yield* node
      const wakes = yield* take(b.wakes, 1)
      const events = yield* take(b.ephemeral, 1)
      yield* a.wake(1234567)
      yield* a.publish(ephemeral(7))
      expect(yield* Fiber.join(wakes)).toEqual([1234567])
      expect((yield* Fiber.join(events))[0]).toMatchObject({ orgId: org, at: 7, after: 7 })
    }))
})
