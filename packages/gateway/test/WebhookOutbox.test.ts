/**
 * The webhooks outbox on its schedule: a real database and a local receiver,
 * the outbox's clock a `TestClock`, so a retry due in 30 seconds or in 4
 * hours is reached by moving the clock, never by waiting. The receiver checks
 * each delivery with the `standardwebhooks` library.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, layer } from "@effect/vitest"
import type { OrgId } from "@troupe/domain/Ids"
import { WebhookEndpointId } from "@troupe/domain/Webhook"
import * as EventBus from "@troupe/realtime/EventBus"
import { AccountRepo } from "@troupe/store/AccountRepo"
import * as Database from "@troupe/store/Database"
import { EventLog, LogWaker } from "@troupe/store/EventLog"
import { MessageRepo } from "@troupe/store/MessageRepo"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { WebhookRepo } from "@troupe/store/WebhookRepo"
import { Chunk, ConfigProvider, Duration, Effect, Layer, TestClock, TestContext } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { Webhook } from "standardwebhooks"
import { ChannelKey } from "../src/ChannelKey.js"
import { EndpointSecret } from "../src/Credentials.js"
import * as StandardWebhooks from "../src/StandardWebhooks.js"
import * as WebhookReceiver from "../src/testing/WebhookReceiver.js"
import * as WebhookOutbox from "../src/WebhookOutbox.js"
import { SECRET_OVERLAP } from "../src/Webhooks.js"

/** The settings of these tests; the receiver is on loopback, so webhooks may reach it unless `allowPrivate` is false. */
const settings = (allowPrivate: boolean) =>
  ConfigProvider.fromJson({
    CHANNEL_KEY,
    EVENT_POLL_INTERVAL: "1 second",
    WEBHOOK_ALLOW_PRIVATE: String(allowPrivate)
  }).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))

const CHANNEL_KEY = randomBytes(32).toString("base64")

const Config = Layer.setConfigProvider(settings(true))

const TestLayer = Layer.mergeAll(
  AccountRepo.Default,
  OrgRepo.Default,
  RoomRepo.Default,
  MessageRepo.Default,
  EventLog.Default,
  WebhookRepo.Default,
  ChannelKey.Default,
  FetchHttpClient.layer
).pipe(
  Layer.provideMerge(Layer.effect(LogWaker, Effect.map(EventBus.EventBus, (bus) => bus.wake))),
  Layer.provideMerge(EventBus.layerMemory),
  Layer.provideMerge(Database.layerTest),
  Layer.provide(Config)
)

/** Lets the event loop turn once: other fibers' I/O goes on. */
const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** Repeats `check` until it gives a value, letting other work run in between (no clock involved). */
const until = <A, E, R>(check: Effect.Effect<A | undefined, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(check, (found) => found === undefined ? Effect.zipRight(turn, until(check)) : Effect.succeed(found))

/** The outbox's poll interval in these tests. */
const POLL = Duration.seconds(1)

/**
 * Moves the clock by `by`, then until `happened`: when the outbox is found
 * waiting for its next poll (it may have started waiting just after the move)
 * with nothing done, by one more poll interval.
 */
const advance = (by: Duration.DurationInput, happened: () => boolean): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* TestClock.adjust(by)
    while (true) {
      const now = yield* TestClock.currentTimeMillis
      const waiting = yield* until(Effect.map(TestClock.sleeps(), (sleeps) =>
        happened() ? "done" : Chunk.some(sleeps, (end) =>
            end === now + Duration.toMillis(POLL))
          ? "idle"
          : undefined))
      if (waiting === "done") {
        return
      }
      yield* TestClock.adjust(POLL)
    }
  })

/**
 * The test clock at the real time, a receiver, an org with a public room and
 * an endpoint on the receiver at `path`, a way to post in the room, and the
 * outbox running (for the scope) on the test clock.
 */
const world = (path: string, options: { readonly allowPrivate?: boolean; readonly host?: string } = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(Date.now())
    const receiver = yield* WebhookReceiver.make
    const tag = randomBytes(4).toString("hex")
    const { user } = yield* (yield* AccountRepo).signup({
      email: `ana-${tag}@example.com`,
      password: "long enough pw",
      name: "Ana"
    })
    const org = yield* (yield* OrgRepo).create(user, { name: "Acme", slug: `acme-${tag}` })
    const room = yield* (yield* RoomRepo).create(org.id, user, { name: "general", kind: "public", topic: "" })
    const id = WebhookEndpointId.make(randomUUID())
    const secret = StandardWebhooks.newSecret()
    const key = yield* ChannelKey
    yield* (yield* WebhookRepo).create(org.id, {
      id,
      url: `${receiver.url.replace("127.0.0.1", options.host ?? "127.0.0.1")}${path}`,
      eventTypes: ["message.created"],
      enabled: true,
      secret: yield* key.seal(id, new EndpointSecret({ secret })),
      createdBy: user.id
    })
    const messages = yield* MessageRepo
    const post = (text: string) => messages.post(room, { kind: "user", id: user.id, name: "Ana" }, { text })
    yield* Effect.forkScoped(WebhookOutbox.run.pipe(Effect.withConfigProvider(settings(options.allowPrivate ?? true))))
    return { receiver, orgId: org.id, endpointId: id, secret, post }
  })

/** The endpoint's only delivery once `ready` holds for it. */
const deliveryWhen = (
  orgId: OrgId,
  endpointId: WebhookEndpointId,
  ready: (d: { readonly status: string; readonly attempts: number }) => boolean
) =>
  Effect.flatMap(
    WebhookRepo,
    (repo) =>
      until(Effect.map(repo.deliveries(orgId, endpointId, 10), ([d]) => d !== undefined && ready(d) ? d : undefined))
  )

describe("the webhooks outbox", () => {
  layer(TestLayer, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.scoped("retries a 5xx on its schedule with the same webhook-id, then marks the delivery sent", () =>
      Effect.gen(function*() {
        const path = "/flaky"
        const w = yield* world(path)
        const receiver = w.receiver
        receiver.script(path, [503])

        yield* w.post("deploy finished")
        const [first] = yield* receiver.waitFor(path, 1)
        const pending = yield* deliveryWhen(w.orgId, w.endpointId, (d) => d.attempts === 1)
        expect([pending.status, pending.lastStatus, pending.lastError]).toEqual(["pending", 503, "answered 503"])
        // Due 30 seconds after the failure: a minute's early poll finds nothing to send.
        expect(pending.nextAttemptAt?.getTime()).toBe(
          (yield* TestClock.currentTimeMillis) + Duration.toMillis(WebhookOutbox.retryDelay(1))
        )

        const calls = () => receiver.received.filter((r) => r.path === path).length
        yield* advance("30 seconds", () => calls() >= 2)
        const [, second] = yield* receiver.waitFor(path, 2)
        const sent = yield* deliveryWhen(w.orgId, w.endpointId, (d) => d.status === "sent")
        expect([sent.attempts, sent.lastStatus, sent.lastError]).toEqual([2, 204, null])
        // The same delivery, signed anew for each attempt: receivers de-duplicate on webhook-id.
        expect(second?.headers["webhook-id"]).toBe(first?.headers["webhook-id"])
        expect(second?.headers["webhook-id"]).toBe(sent.id)
        expect(Number(second?.headers["webhook-timestamp"]) - Number(first?.headers["webhook-timestamp"]))
          .toBeGreaterThanOrEqual(30)
        expect(second?.body).toBe(first?.body)
        for (const call of [first, second]) {
          expect(() => new Webhook(w.secret).verify(call?.body ?? "", call?.headers ?? {})).not.toThrow()
        }
      }).pipe(Effect.provide(TestContext.TestContext)))

    it.scoped("after a rotation, deliveries are signed with both secrets for a day, then with the new one", () =>
      Effect.gen(function*() {
        const path = "/rotated"
        const w = yield* world(path)
        const receiver = w.receiver
        const fresh = StandardWebhooks.newSecret()
        const key = yield* ChannelKey
        yield* (yield* WebhookRepo).rotate(
          w.orgId,
          w.endpointId,
          yield* key.seal(w.endpointId, new EndpointSecret({ secret: fresh })),
          new Date((yield* TestClock.currentTimeMillis) + Duration.toMillis(SECRET_OVERLAP))
        )
        // Whether the delivery carries a signature made with `secret` (the library's own signing; its verify
        // would also hold the test clock's day-later timestamp against the real clock).
        const signedWith = (secret: string, call: WebhookReceiver.ReceivedRequest | undefined) => {
          const id = call?.headers["webhook-id"] ?? ""
          const at = new Date(Number(call?.headers["webhook-timestamp"]) * 1000)
          const expected = new Webhook(secret).sign(id, at, call?.body ?? "")
          return (call?.headers["webhook-signature"] ?? "").split(" ").includes(expected)
        }

        yield* w.post("during the overlap")
        const [during] = yield* receiver.waitFor(path, 1)
        expect([signedWith(fresh, during), signedWith(w.secret, during)]).toEqual([true, true])
        expect(() => new Webhook(w.secret).verify(during?.body ?? "", during?.headers ?? {})).not.toThrow()
        yield* deliveryWhen(w.orgId, w.endpointId, (d) => d.status === "sent")

        yield* TestClock.adjust(SECRET_OVERLAP)
        yield* w.post("a day later")
        const [, after] = yield* receiver.waitFor(path, 2)
        expect([signedWith(fresh, after), signedWith(w.secret, after)]).toEqual([true, false])
        expect(after?.headers["webhook-signature"]?.split(" ")).toHaveLength(1)
      }).pipe(Effect.provide(TestContext.TestContext)))

    it.scoped("gives up a day after the event: 14 attempts on the documented schedule, then failed", () =>
      Effect.gen(function*() {
        const path = "/down"
        const w = yield* world(path)
        const receiver = w.receiver
        receiver.script(path, Array.from({ length: 30 }, () => 500))

        yield* w.post("nobody is listening")
        const start = yield* TestClock.currentTimeMillis
        const calls = () => receiver.received.filter((r) => r.path === path).length
        const waits: Array<number> = []
        for (let n = 1;; n++) {
          yield* receiver.waitFor(path, n)
          const d = yield* deliveryWhen(w.orgId, w.endpointId, (d) => d.attempts === n)
          if (d.status === "failed") break
          const now = yield* TestClock.currentTimeMillis
          waits.push(((d.nextAttemptAt?.getTime() ?? now) - now) / 60_000)
          yield* advance(WebhookOutbox.retryDelay(n), () => calls() > n)
        }
        // In minutes: doubling from 30 seconds to 4 hours; the 15th would come after the day.
        expect(waits).toEqual([0.5, 1, 2, 4, 8, 16, 32, 64, 128, 240, 240, 240, 240])
        const lastAt = (yield* TestClock.currentTimeMillis) - start
        expect(lastAt).toBeLessThan(Duration.toMillis(WebhookOutbox.DELIVERY_WINDOW))
        expect(lastAt + Duration.toMillis(WebhookOutbox.retryDelay(14))).toBeGreaterThan(
          Duration.toMillis(WebhookOutbox.DELIVERY_WINDOW)
        )
        const failed = yield* deliveryWhen(w.orgId, w.endpointId, (d) => d.status === "failed")
        expect([failed.attempts, failed.lastStatus, failed.nextAttemptAt]).toEqual([14, 500, null])
        expect(receiver.received.filter((r) => r.path === path)).toHaveLength(14)
        expect(new Set(receiver.received.filter((r) => r.path === path).map((r) => r.headers["webhook-id"])).size)
          .toBe(1)
      }).pipe(Effect.provide(TestContext.TestContext)))

    it.scoped("with WEBHOOK_ALLOW_PRIVATE off, refuses a loopback address and a name resolving to one, at once", () =>
      Effect.gen(function*() {
        for (const host of ["127.0.0.1", "localhost"]) {
          const path = `/private-${host}`
          const w = yield* world(path, { allowPrivate: false, host })
          yield* w.post("not for the local network")
          const failed = yield* deliveryWhen(w.orgId, w.endpointId, (d) => d.status === "failed")
          expect([failed.attempts, failed.lastStatus, failed.nextAttemptAt]).toEqual([1, null, null])
          expect(failed.lastError).toMatch(
            host === "localhost"
              ? /^refused: localhost resolves to (127\.0\.0\.1|::1), a private or loopback address/
              : /^refused: 127\.0\.0\.1 is a private or loopback address \(WEBHOOK_ALLOW_PRIVATE is off\)$/
          )
          expect(w.receiver.received).toHaveLength(0)
        }
      }).pipe(Effect.provide(TestContext.TestContext)))
  })
})
