/**
 * Test harness: a real server on a loopback port over a fresh database,
 * and clients built from the contract.
 */
import { FetchHttpClient, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import * as EventStream from "@troupe/client/EventStream"
import * as TroupeClient from "@troupe/client/TroupeClient"
import type { Delivered } from "@troupe/domain/Event"
import * as FakeOpenAI from "@troupe/llm/testing/FakeOpenAI"
import * as Database from "@troupe/store/Database"
import * as Mailer from "@troupe/workspace/Mailer"
import * as SmtpServer from "@troupe/workspace/testing/SmtpServer"
import { Chunk, ConfigProvider, Deferred, Duration, Effect, Layer, Option, Schedule, Schema, Stream } from "effect"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { createHttpServer } from "../src/http/NodeServer.js"
import { HttpAppLive, HttpLive } from "../src/Server.js"

/** The Redis the tests use (`REDIS_URL`, default the local server). */
export const testRedisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

/**
 * Server settings for tests: generous limits, fast polling, in-process bus.
 * The environment supplies only the database settings, so a `REDIS_URL` in the
 * environment does not silently switch every test to Redis.
 */
export const testConfig = (overrides: Record<string, string> = {}) => {
  const env: Record<string, string> = {}
  for (const key of ["DATABASE_URL", "TROUPE_TEST_EMBEDDED"]) {
    const value = process.env[key]
    if (value !== undefined) env[key] = value
  }
  return Layer.setConfigProvider(
    ConfigProvider.fromJson({
      RATE_USER_WRITES_PER_MIN: "100000",
      RATE_ORG_WRITES_PER_MIN: "100000",
      RATE_LOGIN_PER_15MIN: "1000",
      RATE_LOGIN_PER_ADDRESS_PER_15MIN: "100000",
      RATE_SIGNUP_PER_ADDRESS_PER_HOUR: "100000",
      RATE_PASSWORD_RESET_PER_HOUR: "1000",
      RATE_PASSWORD_RESET_PER_ADDRESS_PER_HOUR: "100000",
      EVENT_POLL_INTERVAL: "200 millis",
      SSE_HEARTBEAT: "1 second",
      // Each test server keeps its files in a folder of its own.
      FILE_STORAGE_DIR: Fs.mkdtempSync(Path.join(Os.tmpdir(), "troupe-files-")),
      ...env,
      ...overrides
    })
  )
}

/** Settings that put a test server on Redis, with a key prefix of its own. */
export const redisOverrides = (prefix = `troupe-test-${randomBytes(4).toString("hex")}:`) => ({
  REDIS_URL: testRedisUrl,
  REDIS_PREFIX: prefix
})

/**
 * A server on a random loopback port, over its own fresh database. Pass
 * `redisOverrides()` to run it on Redis.
 */
export const TestServer = (overrides: Record<string, string> = {}) => serve(HttpLive, overrides)

/** `app` on a random loopback port, over its own fresh database, with the test settings. */
const serve = <A, E, R>(app: Layer.Layer<A, E, R>, overrides: Record<string, string>) =>
  app.pipe(
    Layer.provideMerge(NodeHttpServer.layer(createHttpServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(Database.layerTest),
    Layer.provideMerge(FetchHttpClient.layer),
    Layer.provide(testConfig(overrides))
  )

/** A test server that keeps the mail it would send: read it through `Mailer.Mailbox`. */
export const TestServerWithMailbox = (overrides: Record<string, string> = {}) =>
  serve(HttpAppLive.pipe(Layer.provideMerge(Mailer.layerTest)), overrides)

/**
 * A test server that sends its mail through a real SMTP server of its own
 * (`SmtpServer.SmtpCapture`), as `SMTP_URL` tells it to.
 */
export const TestServerWithSmtp = (overrides: Record<string, string> = {}) =>
  Layer.unwrapScoped(Effect.map(SmtpServer.make(), (smtp) =>
    TestServer({ SMTP_URL: smtp.url, ...overrides }).pipe(
      Layer.provideMerge(Layer.succeed(SmtpServer.SmtpCapture, smtp))
    )))

/** The token of the first password-reset link in `text`. */
export const resetToken = (text: string) => /\/reset#([A-Za-z0-9_-]+)/.exec(text)?.[1] ?? ""

/** The token of the password-reset link mailed to `to` (the `count`th mail to them). */
export const mailedResetToken = (to: string, count = 1) =>
  Effect.flatMap(
    Mailer.Mailbox,
    (box) => Effect.map(box.received(to, count), (mails) => resetToken(mails.at(-1)?.text ?? ""))
  )

/** The test server's base URL. */
export const baseUrl = Effect.map(HttpServer.HttpServer, (server) => {
  const address = server.address
  return address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : "http://unix"
})

/** A client, authenticated when a token is given. */
export const client = (token?: string) => Effect.flatMap(baseUrl, (url) => TroupeClient.make({ baseUrl: url, token }))

/** A channel-credentials key for test servers that connect channel accounts (`CHANNEL_KEY`). */
export const testChannelKey = randomBytes(32).toString("base64")

/** A unique e-mail for a test person. */
export const email = (name: string) => `${name}.${randomBytes(4).toString("hex")}@example.com`

/** Signs a new person up and returns their authenticated client. */
export const person = (name: string) =>
  Effect.gen(function*() {
    const anonymous = yield* client()
    const session = yield* anonymous.auth.signup({
      payload: { email: email(name), password: "correct horse battery", name }
    })
    return { ...session, api: yield* client(session.token) }
  })

/** The port a listening `node:http` server took (0 before it listens). */
export const portOf = (address: AddressInfo | string | null) =>
  typeof address === "object" && address !== null ? address.port : 0

/** A unique org slug. */
export const slug = () => `org-${randomBytes(4).toString("hex")}`

const parseJson = (text: string): unknown => Option.getOrUndefined(Schema.decodeUnknownOption(Schema.parseJson())(text))

/** A response read by `raw`: status, headers and the body (parsed when it is JSON). */
export interface RawResponse {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: unknown
}

/**
 * Sends a request with `fetch`, bypassing the typed client, so tests can send
 * broken requests and read headers. A string body is sent as is, a `FormData` as multipart, anything else as JSON.
 */
export const raw = (
  method: string,
  path: string,
  options: { readonly token?: string; readonly body?: unknown; readonly headers?: Record<string, string> } = {}
) =>
  Effect.flatMap(baseUrl, (url) =>
    Effect.promise(async (): Promise<RawResponse> => {
      const form = options.body instanceof FormData
      const headers: Record<string, string> = form ? {} : { "content-type": "application/json" }
      Object.assign(headers, options.headers)
      if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
      const body = options.body === undefined
        ? undefined
        : typeof options.body === "string" || options.body instanceof FormData
        ? options.body
        : JSON.stringify(options.body)
      const response = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
      const text = await response.text()
      return { status: response.status, headers: response.headers, text, json: parseJson(text) }
    }))

/** An upload form: `bytes` as the part `field` (default `file`), beside a plain field the server ignores. */
export const fileForm = (
  bytes: Uint8Array,
  options: { readonly name?: string; readonly type?: string; readonly field?: string } = {}
) => {
  const form = new FormData()
  form.append("note", "a field that is not the file")
  form.append(
    options.field ?? "file",
    new Blob([bytes], { type: options.type ?? "text/plain" }),
    options.name ?? "notes.txt"
  )
  return form
}

/** What to read from an event stream. */
export interface ReadOptions {
  readonly baseUrl: string
  readonly token: string
  readonly lastEventId?: string | undefined
  readonly count: number
  readonly keep?: (d: Delivered) => boolean
  readonly timeout?: Duration.DurationInput
}

/** The first `count` events matching `keep`, or fewer when `timeout` passed or the stream ended. */
const collectFrom = (events: Stream.Stream<Delivered, EventStream.EventStreamError>, options: ReadOptions) =>
  events.pipe(
    Stream.filter(options.keep ?? (() => true)),
    Stream.take(options.count),
    Stream.interruptAfter(options.timeout ?? "10 seconds"),
    Stream.catchAll(() => Stream.empty),
    Stream.runCollect,
    Effect.map((c) => Chunk.toReadonlyArray(c))
  )

/**
 * Reads the event stream from `lastEventId` until `count` events matching
 * `keep` arrived, `timeout` passed or the connection broke, and returns them.
 */
export const readEvents = (options: ReadOptions) =>
  Effect.scoped(Effect.flatMap(EventStream.connect(options), (c) => collectFrom(c.events, options))).pipe(
    Effect.orElseSucceed((): ReadonlyArray<Delivered> => [])
  )

/**
 * Opens the event stream and waits for the server's ready handshake, then
 * reads as `readEvents` does in a fiber of its own. Act once this returns:
 * nothing written afterwards is missed, with or without a `lastEventId`.
 */
export const watch = (options: ReadOptions) =>
  Effect.gen(function*() {
    const ready = yield* Deferred.make<void, EventStream.EventStreamError>()
    const fiber = yield* Effect.scoped(Effect.gen(function*() {
      const connection = yield* EventStream.connect(options).pipe(Effect.tapError((e) => Deferred.fail(ready, e)))
      yield* Deferred.succeed(ready, undefined)
      return yield* collectFrom(connection.events, options)
    })).pipe(Effect.fork)
    yield* Deferred.await(ready)
    return fiber
  })

/** Only durable events (not typing or presence). */
export const durable = (d: Delivered) =>
  d.event.type !== "typing" && d.event.type !== "presence.changed" && d.event.type !== "message.delta"

/** The texts of the `message.created` events among `events`. */
export const messageTexts = (events: ReadonlyArray<Delivered>) =>
  events.flatMap((d) => d.event.type === "message.created" ? [d.event.message.text] : [])

/**
 * A test server whose teammates talk to a local OpenAI-compatible server
 * (scripted by directives in messages, see `@troupe/llm/testing/FakeOpenAI`).
 */
export const TestServerWithModel = (overrides: Record<string, string> = {}) =>
  Layer.unwrapScoped(
    Effect.map(FakeOpenAI.make, (fake) =>
      TestServer({
        OPENAI_BASE_URL: fake.baseURL,
        OPENAI_API_KEY: "test-key",
        DEFAULT_MODEL: "gpt-4o-mini",
        ...overrides
      }).pipe(
        Layer.provideMerge(Layer.succeed(FakeOpenAI.FakeOpenAI, fake))
      ))
  )

/** The value of a Prometheus counter series with (at least) these labels in `/metrics` text; 0 when there is none. */
export const counterOf = (text: string, name: string, labels: Record<string, string>) => {
  const line = text.split("\n").find((l) =>
    l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))
  )
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
}

/** Polls `check` every 100 ms until it returns a value, for at most `timeout`. */
export const eventually = <A, E, R>(
  check: Effect.Effect<Option.Option<A>, E, R>,
  timeout: Duration.DurationInput = "15 seconds"
) =>
  check.pipe(
    Effect.flatMap((o) => Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail("not yet" as const)),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), while: (e) => e === "not yet" }),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`condition not met within ${Duration.format(Duration.decode(timeout))}`)
    })
  )

/**
 * `TestServerWithModel` built over `telemetry` (a tracer, span metrics,
 * loggers), so the server's requests and turns run under it.
 */
export const TestServerWithTelemetry = <A, E>(telemetry: Layer.Layer<A, E>, overrides: Record<string, string> = {}) =>
  TestServerWithModel(overrides).pipe(Layer.provide(telemetry))

/** An org with a public room: Ana owns both, Ben is a member who joined the room. */
export const anaAndBen = Effect.gen(function*() {
  const ana = yield* person("Ana")
  const ben = yield* person("Ben")
  const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
  yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
  const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
  yield* ben.api.rooms.join({ path: { room: room.id } })
  return { ana, ben, org, room }
})

/** Ana's org with Ben and a room (as `anaAndBen`), and a teammate of the room. */
export const anaBenAndTeammate = Effect.gen(function*() {
  const world = yield* anaAndBen
  const teammate = yield* world.ana.api.teammates.hire({
    path: { org: world.org.id },
    payload: { template: "researcher", handle: `t${randomBytes(3).toString("hex")}` }
  })
  yield* world.ana.api.teammates.addToRoom({ path: { room: world.room.id }, payload: { teammateId: teammate.id } })
  return { ...world, teammate }
})

/**
 * What `pick` finds in the first event of `token`'s stream (read from the
 * start of the log) where it finds anything; fails if none comes in a minute.
 */
export const firstFound = <A>(token: string, pick: (d: Delivered) => A | undefined) =>
  Effect.gen(function*() {
    const [found] = yield* readEvents({
      baseUrl: yield* baseUrl,
      token,
      lastEventId: "0",
      count: 1,
      keep: (d) => pick(d) !== undefined,
      timeout: "60 seconds"
    })
    const value = found === undefined ? undefined : pick(found)
    if (value === undefined) return yield* Effect.dieMessage("no such event came")
    return value
  })
