import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as OrgShare from "../src/OrgShare.js"

/** Holds one of `org`'s slots until `done` completes; `started` completes once it has it. */
const hold = (share: OrgShare.OrgShare, org: string) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const done = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(Effect.scoped(Effect.zipRight(
      share.slot(org),
      Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(done))
    )))
    return { started, done, fiber }
  })

/** Lets a held write finish and waits for it. */
const finish = (h: Effect.Effect.Success<ReturnType<typeof hold>>) =>
  Effect.zipRight(Deferred.succeed(h.done, undefined), Fiber.join(h.fiber))

describe("a fair share of the node per org", () => {
  it.effect("an org's writes beyond its slots wait; other orgs do not; a finished write hands its slot on", () =>
    Effect.gen(function*() {
      const share = OrgShare.make(2)
      const a1 = yield* hold(share, "a")
      const a2 = yield* hold(share, "a")
      yield* Deferred.await(a1.started)
      yield* Deferred.await(a2.started)
      const a3 = yield* hold(share, "a")
      const b1 = yield* hold(share, "b")
      yield* Deferred.await(b1.started)
      yield* Effect.yieldNow()
      expect(yield* Deferred.isDone(a3.started)).toBe(false)
      expect(share.load("a")).toEqual({ running: 2, waiting: 1 })
      yield* finish(a1)
      yield* Deferred.await(a3.started)
      expect(share.load("a")).toEqual({ running: 2, waiting: 0 })
      for (const h of [a2, a3, b1]) yield* finish(h)
      expect(share.load("a")).toEqual({ running: 0, waiting: 0 })
      expect(share.load("b")).toEqual({ running: 0, waiting: 0 })
    }))

  it.effect("a write that fails or is interrupted frees its slot", () =>
    Effect.gen(function*() {
      const share = OrgShare.make(1)
      const failed = yield* Effect.scoped(Effect.zipRight(share.slot("a"), Effect.fail("refused"))).pipe(Effect.flip)
      expect(failed).toBe("refused")
      const h = yield* hold(share, "a")
      yield* Deferred.await(h.started)
      yield* Fiber.interrupt(h.fiber)
      expect(share.load("a")).toEqual({ running: 0, waiting: 0 })
      const next = yield* hold(share, "a")
      yield* Deferred.await(next.started)
      yield* finish(next)
    }))

  it.effect("a write interrupted while it waits (its client gone) leaves the queue and takes no slot", () =>
    Effect.gen(function*() {
      const share = OrgShare.make(1)
      const running = yield* hold(share, "a")
      yield* Deferred.await(running.started)
      const gone = yield* hold(share, "a")
      yield* Effect.yieldNow()
      expect(share.load("a")).toEqual({ running: 1, waiting: 1 })
      yield* Fiber.interrupt(gone.fiber)
      expect(share.load("a")).toEqual({ running: 1, waiting: 0 })
      yield* finish(running)
      expect(share.load("a")).toEqual({ running: 0, waiting: 0 })
      const next = yield* hold(share, "a")
      yield* Deferred.await(next.started)
      yield* finish(next)
    }))
})
