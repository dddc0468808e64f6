/**
 * `troupe webhooks`: the org's outbound webhook endpoints (docs/api.md,
 * "Outbound webhooks"): listing, subscribing a URL to event types (its
 * signing secret is printed once), changing one, rotating its secret,
 * removing it and reading its latest deliveries. Admins only; the server's
 * refusal (a URL it may not send to is 422) is exit 2 with its message.
 */
import { Args, Command, Options } from "@effect/cli"
import type { OrgId } from "@troupe/domain/Ids"
import {
  type WebhookDelivery,
  type WebhookEndpoint,
  WebhookEndpointId,
  WebhookEventType,
  type WebhookWithSecret
} from "@troupe/domain/Webhook"
import { Console, Effect, Option, Schema } from "effect"
import { dim, listing } from "./Output.js"
import { anOrg, Failure, given, inGroup, json, orgOption, pickOne, type Session, url } from "./Session.js"

const record = (e: WebhookEndpoint) => ({
  id: e.id,
  url: e.url,
  eventTypes: e.eventTypes,
  enabled: e.enabled,
  lastSuccessAt: e.health.lastSuccessAt,
  lastError: e.health.lastError,
  pending: e.health.pending
})

/** An endpoint's state for people: disabled, its last error, or how many wait. */
const stateOf = (e: WebhookEndpoint) =>
  !e.enabled
    ? "disabled"
    : e.health.lastError !== null
    ? `failing: ${e.health.lastError}`
    : `${e.health.pending} pending`

const list = (input: { url: Option.Option<string>; org: Option.Option<string>; json: boolean }) =>
  Effect.gen(function*() {
    const { org, s } = yield* anOrg(input)
    const endpoints = yield* s.call(s.api.webhooks.list({ path: { org: org.id } }))
    yield* listing(
      input.json,
      endpoints,
      ["URL", "EVENTS", "STATE", "ID"],
      (e) => [e.url, e.eventTypes.join(","), stateOf(e), e.id],
      record
    )
  })

const group = Command.make("webhooks", { url, json, org: orgOption }, list)

const decodeEvents = Schema.decodeUnknown(Schema.Array(WebhookEventType))

/** `--events a,b,c` as event types; an unknown one is a usage error naming the known ones. */
const eventsOf = (text: string) =>
  decodeEvents(text.split(",").map((t) => t.trim()).filter((t) => t !== "")).pipe(
    Effect.mapError(() =>
      new Failure({
        message: `--events takes event types separated by commas, among: ${WebhookEventType.literals.join(", ")}`,
        code: 1
      })
    )
  )

const events = Options.text("events").pipe(
  Options.withDescription("event types, separated by commas (message.created,task.updated,…)")
)

/** The endpoint `wanted` names (its id or its URL) among the org's. */
const endpointFor = (s: Session, orgId: OrgId, wanted: string) =>
  Effect.gen(function*() {
    const endpoints = yield* s.call(s.api.webhooks.list({ path: { org: orgId } }))
    const found = yield* pickOne(endpoints, wanted, (e) => e.id === wanted || e.url === wanted, "webhook")
    return { endpoint: found, id: WebhookEndpointId.make(found.id) }
  })

const endpointArg = Args.text({ name: "webhook" }).pipe(Args.withDescription("the endpoint's id or URL"))

/** Prints an endpoint with its secret, which is shown this once. */
const withSecret = (asJson: boolean, made: WebhookWithSecret, what: string) =>
  Console.log(
    asJson
      ? JSON.stringify({ ...record(made.endpoint), secret: made.secret })
      : `${what} ${made.endpoint.url} ${dim(made.endpoint.id)}\n` +
        `Its signing secret, shown this once (verify deliveries with it):\n${made.secret}`
  )

/**
 * `--server`: in `create` and `update` `--url` is the endpoint's, so the
 * server is given this way (or by TROUPE_URL, the stored session, or
 * `troupe webhooks --url SERVER create …`).
 */
const server = Options.text("server").pipe(
  Options.withDescription("the Troupe server (default: TROUPE_URL, the stored one, or http://127.0.0.1:8787)"),
  Options.optional
)

/** What `create` is given. */
interface CreateInput {
  readonly url: Option.Option<string>
  readonly json: boolean
  readonly org: Option.Option<string>
  readonly target: string
  readonly events: string
  readonly disabled: boolean
}

const subscribe = inGroup(group, (input: CreateInput) =>
  Effect.gen(function*() {
    const eventTypes = yield* eventsOf(input.events)
    const { org, s } = yield* anOrg(input)
    const made = yield* s.call(s.api.webhooks.create({
      path: { org: org.id },
      payload: { url: input.target, eventTypes, ...(input.disabled ? { enabled: false } : {}) }
    }))
    yield* withSecret(input.json, made, "Subscribed")
  }))

const create = Command.make(
  "create",
  {
    server,
    json,
    org: orgOption,
    target: Options.text("url").pipe(Options.withDescription("where deliveries go: an http(s) URL")),
    events,
    disabled: Options.boolean("disabled").pipe(Options.withDescription("make it disabled (sent nothing)"))
  },
  ({ server, ...input }) => subscribe({ ...input, url: server })
).pipe(Command.withDescription("subscribe a URL to event types; its signing secret is printed once (admins)"))

/** What `update` is given. */
interface UpdateInput {
  readonly url: Option.Option<string>
  readonly json: boolean
  readonly org: Option.Option<string>
  readonly webhook: string
  readonly target: Option.Option<string>
  readonly events: Option.Option<string>
  readonly enabled: Option.Option<"true" | "false">
}

const change = inGroup(group, (input: UpdateInput) =>
  Effect.gen(function*() {
    const eventTypes = Option.isSome(input.events)
      ? Option.some(yield* eventsOf(input.events.value))
      : Option.none()
    const { org, s } = yield* anOrg(input)
    const { id } = yield* endpointFor(s, org.id, input.webhook)
    const changed = yield* s.call(s.api.webhooks.update({
      path: { org: org.id, webhook: id },
      payload: {
        ...given("url", input.target),
        ...given("eventTypes", eventTypes),
        ...given("enabled", Option.map(input.enabled, (e) => e === "true"))
      }
    }))
    yield* Console.log(
      input.json ? JSON.stringify(record(changed)) : `Changed ${changed.url}: ${stateOf(changed)} ${dim(changed.id)}`
    )
  }))

const update = Command.make(
  "update",
  {
    server,
    json,
    org: orgOption,
    webhook: endpointArg,
    target: Options.text("url").pipe(Options.withDescription("the endpoint's new URL"), Options.optional),
    events: Options.optional(events),
    enabled: Options.choice("enabled", ["true", "false"]).pipe(
      Options.withDescription("enable or disable it"),
      Options.optional
    )
  },
  ({ server, ...input }) => change({ ...input, url: server })
).pipe(Command.withDescription("change an endpoint's URL, event types or whether it is enabled (admins)"))

const rotate = Command.make(
  "rotate",
  { url, json, org: orgOption, webhook: endpointArg },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const { id } = yield* endpointFor(s, org.id, input.webhook)
      const made = yield* s.call(s.api.webhooks.rotateSecret({ path: { org: org.id, webhook: id } }))
      yield* withSecret(input.json, made, "Rotated the secret of")
    }))
).pipe(Command.withDescription("a new signing secret, printed once; the old one signs too for a day (admins)"))

const remove = Command.make(
  "delete",
  { url, org: orgOption, webhook: endpointArg },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const { endpoint, id } = yield* endpointFor(s, org.id, input.webhook)
      yield* s.call(s.api.webhooks.delete({ path: { org: org.id, webhook: id } }))
      yield* Console.log(`Deleted the webhook ${endpoint.url} ${dim(id)}`)
    }))
).pipe(Command.withDescription("remove an endpoint and its deliveries, pending ones too (admins)"))

const deliveryRecord = (d: WebhookDelivery) => ({
  id: d.id,
  eventId: d.eventId,
  eventType: d.eventType,
  status: d.status,
  attempts: d.attempts,
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  nextAttemptAt: d.nextAttemptAt,
  createdAt: d.createdAt,
  sentAt: d.sentAt
})

const deliveries = Command.make(
  "deliveries",
  {
    url,
    json,
    org: orgOption,
    webhook: endpointArg,
    limit: Options.integer("limit").pipe(Options.withDescription("how many, newest first (1-200)"), Options.optional)
  },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const { id } = yield* endpointFor(s, org.id, input.webhook)
      const list = yield* s.call(s.api.webhooks.deliveries({
        path: { org: org.id, webhook: id },
        urlParams: given("limit", input.limit)
      }))
      yield* listing(
        input.json,
        list,
        ["CREATED", "EVENT", "STATUS", "ATTEMPTS", "LAST", "ID"],
        (d) => [
          d.createdAt.toISOString().slice(0, 19).replace("T", " "),
          d.eventType,
          d.status,
          String(d.attempts),
          d.lastError ?? (d.lastStatus === null ? "" : String(d.lastStatus)),
          d.id
        ],
        deliveryRecord
      )
    }))
).pipe(Command.withDescription("an endpoint's latest deliveries, newest first, with their status (admins)"))

const listCommand = Command.make("list", { url, json, org: orgOption }, inGroup(group, list)).pipe(
  Command.withDescription("the org's webhook endpoints (also `troupe webhooks`)")
)

/** `troupe webhooks [list|create|update|rotate|delete|deliveries]`. */
export const webhooks = group.pipe(
  Command.withDescription("the org's outbound webhooks; subscribe, change, rotate, delete, read deliveries"),
  Command.withSubcommands([listCommand, create, update, rotate, remove, deliveries])
)
