/**
 * The authorisation matrix: every endpoint of the contract against seven
 * kinds of caller, each expecting the status docs/access.md promises. A new
 * endpoint without a row here fails the test.
 */
import type { HttpClient, HttpServer } from "@effect/platform"
import { describe, expect, layer } from "@effect/vitest"
import { TroupeApi } from "@troupe/api/Api"
import { FileInfo } from "@troupe/domain/File"
import type { UserId } from "@troupe/domain/Ids"
import type { Mailbox } from "@troupe/workspace/Mailer"
import { Effect, Option, Schema } from "effect"
import { randomBytes } from "node:crypto"
import {
  baseUrl,
  client,
  email,
  eventually,
  fileForm,
  mailedResetToken,
  person,
  raw,
  slug,
  testChannelKey,
  TestServerWithMailbox
} from "./Harness.js"

const actors = ["anonymous", "outsider", "guest", "member", "admin", "owner", "apiKey"] as const
type Actor = typeof actors[number]

/** Expected statuses: `rest` for every actor not named. */
const who = (statuses: Partial<Record<Actor, number>> & { readonly rest: number }): Record<Actor, number> =>
  // Object.fromEntries types its keys as string; every actor is given one, so the record is whole.
  Object.fromEntries(actors.map((a) => [a, statuses[a] ?? statuses.rest])) as Record<Actor, number>

/** Members of the org (the API key acts as a member-role bot) get `ok`; the others the usual refusals. */
const orgMembers = (ok: number) => who({ anonymous: 401, outsider: 404, rest: ok })
/** Members and above (not guests). */
const membersUp = (ok: number) => who({ anonymous: 401, outsider: 404, guest: 403, rest: ok })
/** Admins and owners. */
const adminsUp = (ok: number) => who({ anonymous: 401, outsider: 404, guest: 403, member: 403, apiKey: 403, rest: ok })

const textBytes = (text: string) => new TextEncoder().encode(text)

/** The smallest GIF: an image as far as the bytes tell. */
const gif = new Uint8Array([...textBytes("GIF89a"), 1, 0, 1, 0, 0, 0, 0, 59])

/** Every signed-in person (not API keys: a key's bot has no profile of its own). */
const people = (ok: number) => who({ anonymous: 401, apiKey: 403, rest: ok })

const handle = () => `t${randomBytes(4).toString("hex")}`

/**
 * The org: Olga owns it, Adam is an admin, Mia a member, Gus a guest, and an
 * API key (member role, made by Adam) acts as a bot. Xena is in another org.
 * `pub` is public (everyone but Gus joined), `priv` private (everyone in it).
 */
const world = Effect.gen(function*() {
  const owner = yield* person("Olga")
  const admin = yield* person("Adam")
  const member = yield* person("Mia")
  const guest = yield* person("Gus")
  const outsider = yield* person("Xena")
  const org = yield* owner.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
  yield* outsider.api.orgs.create({ payload: { name: "Elsewhere", slug: slug() } })
  yield* owner.api.orgs.addMember({ path: { org: org.id }, payload: { email: admin.user.email, role: "admin" } })
  yield* owner.api.orgs.addMember({ path: { org: org.id }, payload: { email: member.user.email } })
  yield* owner.api.orgs.addMember({ path: { org: org.id }, payload: { email: guest.user.email, role: "guest" } })
  const key = yield* admin.api.orgs.createApiKey({ path: { org: org.id }, payload: { name: "bot" } })
  const bot = yield* (yield* client(key.secret)).auth.me()
  const pub = yield* owner.api.rooms.create({ path: { org: org.id }, payload: { name: "pub" } })
  const priv = yield* owner.api.rooms.create({ path: { org: org.id }, payload: { name: "priv", kind: "private" } })
  for (const userId of [admin.user.id, member.user.id, bot.id]) {
    yield* owner.api.rooms.addMember({ path: { room: pub.id }, payload: { userId } })
  }
  for (const userId of [admin.user.id, member.user.id, guest.user.id, bot.id]) {
    yield* owner.api.rooms.addMember({ path: { room: priv.id }, payload: { userId } })
  }
  const message = yield* member.api.messages.post({ path: { room: priv.id }, payload: { text: "hello from Mia" } })
  const upload = (bytes: string) =>
    Effect.map(
      raw("POST", `/v1/rooms/${priv.id}/files`, { token: member.token, body: fileForm(textBytes(bytes)) }),
      (r) => {
        expect(r.status, r.text).toBe(201)
        return Schema.decodeUnknownSync(FileInfo)(r.json)
      }
    )
  const file = yield* upload("a file from Mia")
  const pin = yield* member.api.pins.create({ path: { room: priv.id }, payload: { text: "Mia's note" } })
  const teammate = yield* owner.api.teammates.hire({
    path: { org: org.id },
    payload: { template: "researcher", handle: handle() }
  })
  yield* owner.api.teammates.addToRoom({ path: { room: priv.id }, payload: { teammateId: teammate.id } })
  /** A task Mia gave the teammate, once it has finished. */
  const finishedTask = Effect.gen(function*() {
    const created = yield* member.api.tasks.create({
      path: { room: priv.id },
      payload: { teammateId: teammate.id, goal: "list the open questions" }
    })
    return yield* eventually(
      Effect.map(
        member.api.tasks.get({ path: { room: priv.id, task: created.id } }),
        (t) => t.status === "queued" || t.status === "running" ? Option.none() : Option.some(t)
      ),
      "60 seconds"
    )
  })
  const task = yield* finishedTask
  /** A paused schedule Mia made (paused: the matrix makes no tasks from it). */
  const newSchedule = Effect.flatMap(
    member.api.schedules.create({
      path: { room: priv.id },
      payload: { teammateId: teammate.id, goal: "weekly notes", cron: "0 9 * * mon" }
    }),
    (s) => member.api.schedules.update({ path: { room: priv.id, schedule: s.id }, payload: { paused: true } })
  )
  const schedule = yield* newSchedule
  const people = { owner, admin, member, guest, outsider }
  const tokens: Record<Actor, string | undefined> = {
    anonymous: undefined,
    outsider: outsider.token,
    guest: guest.token,
    member: member.token,
    admin: admin.token,
    owner: owner.token,
    apiKey: key.secret
  }
  const userIds: Record<Actor, UserId | undefined> = {
    anonymous: undefined,
    outsider: outsider.user.id,
    guest: guest.user.id,
    member: member.user.id,
    admin: admin.user.id,
    owner: owner.user.id,
    apiKey: bot.id
  }
  /** A new person in the org, with the member role. */
  const freshMember = Effect.gen(function*() {
    const p = yield* person("Fresh")
    yield* owner.api.orgs.addMember({ path: { org: org.id }, payload: { email: p.user.email } })
    return p
  })
  const freshPublicRoom = owner.api.rooms.create({ path: { org: org.id }, payload: { name: `r-${handle()}` } })
  /** A Telegram account the owner connected. */
  const freshChannel = owner.api.channels.create({
    path: { org: org.id },
    payload: { kind: "telegram", name: "bot", botToken: "123456:telegram-token", webhookSecret: "a-webhook-secret" }
  })
  const channel = yield* freshChannel
  const slackChannel = yield* owner.api.channels.create({
    path: { org: org.id },
    payload: { kind: "slack", name: "Acme", botToken: "xoxb-matrix-0000", signingSecret: "matrix-signing-secret" }
  })
  /** A bridge of `channel` to the public room. */
  const freshBridge = Effect.suspend(() =>
    owner.api.channels.createBridge({
      path: { org: org.id, account: channel.id },
      payload: { externalChannel: `-100${randomBytes(4).readUInt32BE()}`, roomId: pub.id }
    })
  )
  yield* freshBridge
  const webhookAccount = yield* owner.api.channels.create({
    path: { org: org.id },
    payload: { kind: "webhook", name: "alerts", signingSecret: `whsec_${randomBytes(32).toString("base64")}` }
  })
  /** An outbound webhook endpoint the owner subscribed (to a host that does not exist; it is disabled). */
  const freshWebhook = Effect.map(
    owner.api.webhooks.create({
      path: { org: org.id },
      payload: { url: "https://hooks.invalid/hook", eventTypes: ["message.created"], enabled: false }
    }),
    (created) => created.endpoint
  )
  const webhook = yield* freshWebhook
  return {
    org,
    pub,
    priv,
    message,
    file,
    upload,
    pin,
    task,
    finishedTask,
    schedule,
    newSchedule,
    teammate,
    people,
    tokens,
    userIds,
    freshMember,
    freshPublicRoom,
    channel,
    slackChannel,
    freshChannel,
    freshBridge,
    webhookAccount,
    webhook,
    freshWebhook
  }
})

type World = Effect.Effect.Success<typeof world>

interface Request {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  readonly path: string
  readonly body?: unknown
  /** Overrides the actor's token (log-out uses a fresh session). */
  readonly token?: string | undefined
}

type Case = readonly [
  endpoint: string,
  request: (
    w: World,
    actor: Actor
  ) => Effect.Effect<Request, unknown, HttpServer.HttpServer | HttpClient.HttpClient | Mailbox>,
  expected: Record<Actor, number>
]

const at = (method: Request["method"], path: string, body?: unknown) => Effect.succeed<Request>({ method, path, body })

const cases: ReadonlyArray<Case> = [
  ["health.live", () => at("GET", "/health/live"), who({ rest: 200 })],
  ["health.ready", () => at("GET", "/health/ready"), who({ rest: 200 })],
  [
    "auth.signup",
    () => at("POST", "/v1/auth/signup", { email: email("new"), password: "long enough pw", name: "New" }),
    who({ rest: 201 })
  ],
  [
    "auth.login",
    (w) => at("POST", "/v1/auth/login", { email: w.people.member.user.email, password: "correct horse battery" }),
    who({ rest: 200 })
  ],
  ["auth.me", () => at("GET", "/v1/auth/me"), who({ anonymous: 401, rest: 200 })],
  [
    "auth.logout",
    (w, actor) =>
      Effect.gen(function*() {
        if (actor === "anonymous" || actor === "apiKey") {
          return { method: "POST", path: "/v1/auth/logout" } satisfies Request
        }
        const anonymous = yield* client()
        const session = yield* anonymous.auth.login({
          payload: { email: w.people[actor].user.email, password: "correct horse battery" }
        })
        return { method: "POST", path: "/v1/auth/logout", token: session.token } satisfies Request
      }),
    who({ anonymous: 401, rest: 204 })
  ],
  [
    "auth.updateMe",
    () => at("PATCH", "/v1/auth/me", { name: "Renamed" }),
    who({ anonymous: 401, apiKey: 403, rest: 200 })
  ],
  [
    "auth.changePassword",
    (_, actor) =>
      Effect.gen(function*() {
        const body = { currentPassword: "correct horse battery", newPassword: "another horse battery" }
        if (actor === "anonymous" || actor === "apiKey") {
          return { method: "POST", path: "/v1/auth/password", body } satisfies Request
        }
        // Someone of their own: the other sessions of the person who changes it end.
        const changer = yield* person("Changer")
        return { method: "POST", path: "/v1/auth/password", body, token: changer.token } satisfies Request
      }),
    who({ anonymous: 401, apiKey: 403, rest: 204 })
  ],
  [
    "auth.requestPasswordReset",
    () => at("POST", "/v1/auth/password-reset", { email: email("reset") }),
    who({ rest: 202 })
  ],
  [
    "auth.confirmPasswordReset",
    () =>
      Effect.gen(function*() {
        const forgetful = yield* person("Forgetful")
        yield* (yield* client()).auth.requestPasswordReset({ payload: { email: forgetful.user.email } })
        const token = yield* mailedResetToken(forgetful.user.email)
        return {
          method: "POST",
          path: "/v1/auth/password-reset/confirm",
          body: { token, newPassword: "another horse battery" }
        } satisfies Request
      }),
    who({ rest: 200 })
  ],
  // This server has no OpenID Connect provider: anyone may ask, and the flow's endpoints are 404 (Oidc.test.ts has the flow).
  ["auth.oidc", () => at("GET", "/v1/auth/oidc"), who({ rest: 200 })],
  ["auth.oidcStart", () => at("GET", "/v1/auth/oidc/start"), who({ rest: 404 })],
  ["auth.oidcCallback", () => at("GET", "/v1/auth/oidc/callback?code=abc&state=def"), who({ rest: 404 })],
  ["auth.oidcExchange", () => at("POST", "/v1/auth/oidc/exchange", { code: "trp_o_unknown" }), who({ rest: 404 })],
  [
    "orgs.create",
    () => at("POST", "/v1/orgs", { name: "New", slug: slug() }),
    who({ anonymous: 401, apiKey: 403, rest: 201 })
  ],
  ["orgs.list", () => at("GET", "/v1/orgs"), who({ anonymous: 401, rest: 200 })],
  ["orgs.get", (w) => at("GET", `/v1/orgs/${w.org.id}`), orgMembers(200)],
  ["orgs.update", (w) => at("PATCH", `/v1/orgs/${w.org.id}`, { name: "Acme" }), adminsUp(200)],
  // Only the owner gets past access (to 422: the confirmation is wrong, so the matrix's org stays; Retention.test.ts deletes one).
  [
    "orgs.delete",
    (w) => at("DELETE", `/v1/orgs/${w.org.id}?confirm=not-${w.org.slug}`),
    who({ anonymous: 401, outsider: 404, owner: 422, rest: 403 })
  ],
  ["orgs.members", (w) => at("GET", `/v1/orgs/${w.org.id}/members`), orgMembers(200)],
  ["orgs.presence", (w) => at("GET", `/v1/orgs/${w.org.id}/presence`), orgMembers(200)],
  [
    "orgs.addMember",
    (w) =>
      Effect.map(
        person("Joiner"),
        (p) => ({ method: "POST", path: `/v1/orgs/${w.org.id}/members`, body: { email: p.user.email } })
      ),
    adminsUp(201)
  ],
  [
    "orgs.changeRole",
    (w) =>
      Effect.map(
        w.freshMember,
        (p) => ({ method: "PATCH", path: `/v1/orgs/${w.org.id}/members/${p.user.id}`, body: { role: "guest" } })
      ),
    adminsUp(200)
  ],
  [
    "orgs.removeMember",
    (w) => Effect.map(w.freshMember, (p) => ({ method: "DELETE", path: `/v1/orgs/${w.org.id}/members/${p.user.id}` })),
    adminsUp(204)
  ],
  ["orgs.createApiKey", (w) => at("POST", `/v1/orgs/${w.org.id}/api-keys`, { name: "k" }), adminsUp(201)],
  ["orgs.apiKeys", (w) => at("GET", `/v1/orgs/${w.org.id}/api-keys`), adminsUp(200)],
  [
    "orgs.revokeApiKey",
    (w) =>
      Effect.map(
        w.people.owner.api.orgs.createApiKey({ path: { org: w.org.id }, payload: { name: "to revoke" } }),
        (k) => ({ method: "DELETE", path: `/v1/orgs/${w.org.id}/api-keys/${k.key.id}` })
      ),
    adminsUp(204)
  ],
  ["orgs.search", (w) => at("GET", `/v1/orgs/${w.org.id}/search?q=hello`), orgMembers(200)],
  ["invitations.create", (w) => at("POST", `/v1/orgs/${w.org.id}/invitations`, { email: email("inv") }), adminsUp(201)],
  ["invitations.list", (w) => at("GET", `/v1/orgs/${w.org.id}/invitations`), adminsUp(200)],
  [
    "invitations.revoke",
    (w) =>
      Effect.map(
        w.people.owner.api.invitations.create({ path: { org: w.org.id }, payload: { email: email("revoked") } }),
        (i) => ({ method: "DELETE", path: `/v1/orgs/${w.org.id}/invitations/${i.invitation.id}` })
      ),
    adminsUp(200)
  ],
  [
    "invitations.preview",
    (w) =>
      Effect.map(
        w.people.owner.api.invitations.create({ path: { org: w.org.id }, payload: { email: email("previewed") } }),
        (i) => ({ method: "POST", path: "/v1/invitations/preview", body: { token: i.token } })
      ),
    who({ rest: 200 })
  ],
  [
    "invitations.accept",
    (w, actor) =>
      Effect.gen(function*() {
        // Each caller is invited, by address, into an org of someone else's.
        const host = yield* person("Host")
        const org = yield* host.api.orgs.create({ payload: { name: "Host's", slug: slug() } })
        const invited = actor === "anonymous" || actor === "apiKey" ? email("nobody") : w.people[actor].user.email
        const i = yield* host.api.invitations.create({ path: { org: org.id }, payload: { email: invited } })
        return { method: "POST", path: "/v1/invitations/accept", body: { token: i.token } } satisfies Request
      }),
    who({ anonymous: 401, apiKey: 403, rest: 200 })
  ],
  ["rooms.create", (w) => at("POST", `/v1/orgs/${w.org.id}/rooms`, { name: "made" }), membersUp(201)],
  ["rooms.list", (w) => at("GET", `/v1/orgs/${w.org.id}/rooms`), orgMembers(200)],
  [
    "rooms.openDm",
    (w, actor) =>
      at("POST", `/v1/orgs/${w.org.id}/dms`, {
        participants: [w.people[actor === "owner" ? "member" : "owner"].user.id]
      }),
    orgMembers(200)
  ],
  [
    "rooms.get",
    (w) => at("GET", `/v1/rooms/${w.pub.id}`),
    who({ anonymous: 401, outsider: 404, guest: 404, rest: 200 })
  ],
  [
    "rooms.update",
    (w) => at("PATCH", `/v1/rooms/${w.pub.id}`, { topic: "new topic" }),
    who({ anonymous: 401, outsider: 404, guest: 404, rest: 200 })
  ],
  [
    "rooms.archive",
    (w) => Effect.map(w.freshPublicRoom, (r) => ({ method: "POST", path: `/v1/rooms/${r.id}/archive` })),
    who({ anonymous: 401, outsider: 404, guest: 404, member: 403, apiKey: 403, rest: 200 })
  ],
  [
    "rooms.unarchive",
    (w) =>
      Effect.gen(function*() {
        const room = yield* w.freshPublicRoom
        yield* w.people.owner.api.rooms.archive({ path: { room: room.id } })
        return { method: "POST", path: `/v1/rooms/${room.id}/unarchive` } satisfies Request
      }),
    who({ anonymous: 401, outsider: 404, guest: 404, member: 403, apiKey: 403, rest: 200 })
  ],
  [
    "rooms.delete",
    (w) => Effect.map(w.freshPublicRoom, (r) => ({ method: "DELETE", path: `/v1/rooms/${r.id}` })),
    who({ anonymous: 401, outsider: 404, guest: 404, member: 403, apiKey: 403, rest: 204 })
  ],
  [
    "rooms.settings",
    (w) => at("PUT", `/v1/rooms/${w.priv.id}/settings`, { muted: true }),
    who({ anonymous: 401, outsider: 404, rest: 200 })
  ],
  [
    "rooms.join",
    (w) => Effect.map(w.freshPublicRoom, (r) => ({ method: "POST", path: `/v1/rooms/${r.id}/join` })),
    who({ anonymous: 401, outsider: 404, guest: 404, rest: 204 })
  ],
  [
    "rooms.leave",
    (w, actor) =>
      Effect.gen(function*() {
        const userId = w.userIds[actor]
        const room = yield* w.people.owner.api.rooms.create({
          path: { org: w.org.id },
          payload: { name: "leave-me", kind: "private" }
        })
        if (userId !== undefined && actor !== "outsider") {
          yield* w.people.owner.api.rooms.addMember({ path: { room: room.id }, payload: { userId } })
        }
        return { method: "POST", path: `/v1/rooms/${room.id}/leave` } satisfies Request
      }),
    orgMembers(204)
  ],
  [
    "rooms.members",
    (w) => at("GET", `/v1/rooms/${w.pub.id}/members`),
    who({ anonymous: 401, outsider: 404, guest: 404, rest: 200 })
  ],
  [
    "rooms.addMember",
    (w) =>
      Effect.map(
        w.freshMember,
        (p) => ({ method: "POST", path: `/v1/rooms/${w.priv.id}/members`, body: { userId: p.user.id } })
      ),
    membersUp(204)
  ],
  [
    "rooms.removeMember",
    (w) =>
      Effect.gen(function*() {
        const room = yield* w.freshPublicRoom
        const p = yield* w.freshMember
        yield* w.people.owner.api.rooms.addMember({ path: { room: room.id }, payload: { userId: p.user.id } })
        return { method: "DELETE", path: `/v1/rooms/${room.id}/members/${p.user.id}` } satisfies Request
      }),
    who({ anonymous: 401, outsider: 404, guest: 404, member: 403, apiKey: 403, rest: 204 })
  ],
  ["rooms.threads", (w) => at("GET", `/v1/rooms/${w.priv.id}/threads`), orgMembers(200)],
  ["rooms.typing", (w) => at("POST", `/v1/rooms/${w.priv.id}/typing`, {}), orgMembers(204)],
  ["messages.post", (w) => at("POST", `/v1/rooms/${w.priv.id}/messages`, { text: "hi" }), orgMembers(201)],
  ["messages.list", (w) => at("GET", `/v1/rooms/${w.priv.id}/messages`), orgMembers(200)],
  ["messages.get", (w) => at("GET", `/v1/rooms/${w.priv.id}/messages/${w.message.id}`), orgMembers(200)],
  [
    "messages.edit",
    (w) => at("PATCH", `/v1/rooms/${w.priv.id}/messages/${w.message.id}`, { text: `edited ${handle()}` }),
    who({ anonymous: 401, outsider: 404, member: 200, rest: 403 })
  ],
  [
    "messages.delete",
    (w) =>
      Effect.map(
        w.people.member.api.messages.post({ path: { room: w.priv.id }, payload: { text: "delete me" } }),
        (m) => ({ method: "DELETE", path: `/v1/rooms/${w.priv.id}/messages/${m.id}` })
      ),
    who({ anonymous: 401, outsider: 404, guest: 403, apiKey: 403, rest: 200 })
  ],
  ["messages.edits", (w) => at("GET", `/v1/rooms/${w.priv.id}/messages/${w.message.id}/edits`), orgMembers(200)],
  [
    "messages.react",
    (w) => at("PUT", `/v1/rooms/${w.priv.id}/messages/${w.message.id}/reactions/tada`),
    orgMembers(200)
  ],
  [
    "messages.unreact",
    (w) => at("DELETE", `/v1/rooms/${w.priv.id}/messages/${w.message.id}/reactions/tada`),
    orgMembers(200)
  ],
  ["messages.markRead", (w) => at("POST", `/v1/rooms/${w.priv.id}/read`, { messageId: w.message.id }), orgMembers(204)],
  ["files.upload", (w) => at("POST", `/v1/rooms/${w.priv.id}/files`, fileForm(textBytes("hi"))), orgMembers(201)],
  // A GIF's first bytes: what an avatar must be.
  ["avatars.set", () => at("PUT", "/v1/auth/me/avatar", fileForm(gif, { type: "image/gif" })), people(200)],
  ["avatars.remove", () => at("DELETE", "/v1/auth/me/avatar"), people(204)],
  [
    "avatars.get",
    // Olga's avatar, set just before: for everyone who shares her org.
    (w) =>
      Effect.as(
        raw("PUT", "/v1/auth/me/avatar", { token: w.people.owner.token, body: fileForm(gif, { type: "image/gif" }) }),
        { method: "GET", path: `/v1/users/${w.people.owner.user.id}/avatar` } satisfies Request
      ),
    orgMembers(200)
  ],
  ["files.list", (w) => at("GET", `/v1/rooms/${w.priv.id}/files`), orgMembers(200)],
  ["files.get", (w) => at("GET", `/v1/rooms/${w.priv.id}/files/${w.file.id}`), orgMembers(200)],
  ["files.download", (w) => at("GET", `/v1/rooms/${w.priv.id}/files/${w.file.id}/content`), orgMembers(200)],
  [
    "files.delete",
    (w) =>
      Effect.map(w.upload(`delete me ${handle()}`), (f) => ({
        method: "DELETE",
        path: `/v1/rooms/${w.priv.id}/files/${f.id}`
      })),
    who({ anonymous: 401, outsider: 404, guest: 403, apiKey: 403, rest: 200 })
  ],
  ["files.usage", (w) => at("GET", `/v1/orgs/${w.org.id}/files/usage`), membersUp(200)],
  ["files.search", (w) => at("GET", `/v1/orgs/${w.org.id}/files/search?q=file`), orgMembers(200)],
  ["pins.create", (w) => at("POST", `/v1/rooms/${w.priv.id}/pins`, { text: "a note" }), membersUp(201)],
  ["pins.list", (w) => at("GET", `/v1/rooms/${w.priv.id}/pins`), orgMembers(200)],
  [
    "pins.edit",
    (w) => at("PATCH", `/v1/rooms/${w.priv.id}/pins/${w.pin.id}`, { text: `edited ${handle()}` }),
    membersUp(200)
  ],
  ["pins.versions", (w) => at("GET", `/v1/rooms/${w.priv.id}/pins/${w.pin.id}/versions`), orgMembers(200)],
  [
    "pins.delete",
    (w) =>
      Effect.map(
        w.people.member.api.pins.create({ path: { room: w.priv.id }, payload: { text: "unpin me" } }),
        (p) => ({ method: "DELETE", path: `/v1/rooms/${w.priv.id}/pins/${p.id}` })
      ),
    membersUp(204)
  ],
  [
    "tasks.create",
    (w) => at("POST", `/v1/rooms/${w.priv.id}/tasks`, { teammateId: w.teammate.id, goal: "a goal" }),
    membersUp(201)
  ],
  ["tasks.list", (w) => at("GET", `/v1/rooms/${w.priv.id}/tasks`), orgMembers(200)],
  ["tasks.get", (w) => at("GET", `/v1/rooms/${w.priv.id}/tasks/${w.task.id}`), orgMembers(200)],
  [
    // Allowed callers get 409: the task has finished (a running one would race with the local model).
    "tasks.cancel",
    (w) => Effect.map(w.finishedTask, (t) => ({ method: "POST", path: `/v1/rooms/${w.priv.id}/tasks/${t.id}/cancel` })),
    who({ anonymous: 401, outsider: 404, guest: 403, apiKey: 403, rest: 409 })
  ],
  [
    "schedules.create",
    (w) =>
      at("POST", `/v1/rooms/${w.priv.id}/schedules`, {
        teammateId: w.teammate.id,
        goal: "a goal",
        cron: "0 9 1 1 *"
      }),
    membersUp(201)
  ],
  ["schedules.list", (w) => at("GET", `/v1/rooms/${w.priv.id}/schedules`), orgMembers(200)],
  ["schedules.get", (w) => at("GET", `/v1/rooms/${w.priv.id}/schedules/${w.schedule.id}`), orgMembers(200)],
  [
    "schedules.update",
    (w) => at("PATCH", `/v1/rooms/${w.priv.id}/schedules/${w.schedule.id}`, { goal: `notes ${handle()}` }),
    who({ anonymous: 401, outsider: 404, guest: 403, apiKey: 403, rest: 200 })
  ],
  [
    "schedules.delete",
    (w) => Effect.map(w.newSchedule, (s) => ({ method: "DELETE", path: `/v1/rooms/${w.priv.id}/schedules/${s.id}` })),
    who({ anonymous: 401, outsider: 404, guest: 403, apiKey: 403, rest: 204 })
  ],
  ["teammates.catalog", () => at("GET", "/v1/catalog"), who({ anonymous: 401, rest: 200 })],
  [
    "teammates.hire",
    (w) => at("POST", `/v1/orgs/${w.org.id}/teammates`, { template: "researcher", handle: handle() }),
    membersUp(201)
  ],
  ["teammates.list", (w) => at("GET", `/v1/orgs/${w.org.id}/teammates`), orgMembers(200)],
  ["teammates.get", (w) => at("GET", `/v1/orgs/${w.org.id}/teammates/${w.teammate.id}`), orgMembers(200)],
  [
    "teammates.update",
    (w) => at("PATCH", `/v1/orgs/${w.org.id}/teammates/${w.teammate.id}`, { role: "Researcher" }),
    membersUp(200)
  ],
  [
    "teammates.dismiss",
    (w) =>
      Effect.map(
        w.people.owner.api.teammates.hire({
          path: { org: w.org.id },
          payload: { template: "researcher", handle: handle() }
        }),
        (t) => ({ method: "DELETE", path: `/v1/orgs/${w.org.id}/teammates/${t.id}` })
      ),
    adminsUp(200)
  ],
  ["teammates.openDm", (w) => at("POST", `/v1/orgs/${w.org.id}/teammates/${w.teammate.id}/dm`), orgMembers(200)],
  [
    "teammates.addToRoom",
    (w) => at("POST", `/v1/rooms/${w.priv.id}/teammates`, { teammateId: w.teammate.id }),
    membersUp(204)
  ],
  ["teammates.runs", (w) => at("GET", `/v1/orgs/${w.org.id}/teammates/${w.teammate.id}/runs`), membersUp(200)],
  [
    "teammates.interrupt",
    (w) => at("POST", `/v1/orgs/${w.org.id}/teammates/${w.teammate.id}/interrupt`),
    membersUp(200)
  ],
  ["teammates.memory", (w) => at("GET", `/v1/orgs/${w.org.id}/teammates/${w.teammate.id}/memory`), membersUp(200)],
  [
    "teammates.remember",
    (w) => at("POST", `/v1/orgs/${w.org.id}/teammates/${w.teammate.id}/memory`, { text: "a fact" }),
    membersUp(201)
  ],
  [
    "teammates.putCore",
    (w) => at("PUT", `/v1/orgs/${w.org.id}/teammates/${w.teammate.id}/memory/core/org`, { text: "core" }),
    membersUp(204)
  ],
  [
    "teammates.forget",
    (w) =>
      Effect.map(
        w.people.owner.api.teammates.remember({
          path: { org: w.org.id, teammate: w.teammate.id },
          payload: { text: "forget me" }
        }),
        (m) => ({ method: "DELETE", path: `/v1/orgs/${w.org.id}/teammates/${w.teammate.id}/memory/${m.id}` })
      ),
    membersUp(204)
  ],
  ["teammates.usage", (w) => at("GET", `/v1/orgs/${w.org.id}/usage`), membersUp(200)],
  ["teammates.budget", (w) => at("PUT", `/v1/orgs/${w.org.id}/budget`, { monthlyTokens: 1_000_000 }), adminsUp(204)],
  ["teammates.modelPolicy", (w) => at("GET", `/v1/orgs/${w.org.id}/model-policy`), orgMembers(200)],
  [
    "teammates.setModelPolicy",
    (w) => at("PUT", `/v1/orgs/${w.org.id}/model-policy`, { allowedModels: null }),
    adminsUp(200)
  ],
  ["events.stream", () => at("GET", "/v1/events"), who({ anonymous: 401, rest: 200 })],
  ["events.poll", () => at("GET", "/v1/events/poll?timeoutMs=0"), who({ anonymous: 401, rest: 200 })],
  [
    "channels.create",
    (w) =>
      at("POST", `/v1/orgs/${w.org.id}/channels`, {
        kind: "slack",
        name: "Acme Slack",
        botToken: "xoxb-matrix-token",
        signingSecret: "a-signing-secret"
      }),
    adminsUp(201)
  ],
  ["channels.list", (w) => at("GET", `/v1/orgs/${w.org.id}/channels`), adminsUp(200)],
  ["channels.get", (w) => at("GET", `/v1/orgs/${w.org.id}/channels/${w.channel.id}`), adminsUp(200)],
  [
    "channels.update",
    (w) => at("PATCH", `/v1/orgs/${w.org.id}/channels/${w.channel.id}`, { name: "renamed" }),
    adminsUp(200)
  ],
  [
    "channels.delete",
    (w) => Effect.map(w.freshChannel, (c) => ({ method: "DELETE", path: `/v1/orgs/${w.org.id}/channels/${c.id}` })),
    adminsUp(204)
  ],
  [
    "channels.createBridge",
    (w) =>
      at("POST", `/v1/orgs/${w.org.id}/channels/${w.channel.id}/bridges`, {
        externalChannel: `C${handle()}`,
        roomId: w.priv.id
      }),
    adminsUp(201)
  ],
  ["channels.bridges", (w) => at("GET", `/v1/orgs/${w.org.id}/channels/${w.channel.id}/bridges`), adminsUp(200)],
  [
    "channels.deleteBridge",
    (w) =>
      Effect.map(w.freshBridge, (b) => ({
        method: "DELETE",
        path: `/v1/orgs/${w.org.id}/channels/${w.channel.id}/bridges/${b.id}`
      })),
    adminsUp(204)
  ],
  ["channels.traffic", (w) => at("GET", `/v1/orgs/${w.org.id}/channels/${w.channel.id}/traffic`), adminsUp(200)],
  // Data rights: admins and owners (the API key acts as a member).
  ["dataRights.export", (w) => at("GET", `/v1/orgs/${w.org.id}/export?user=${w.people.member.user.id}`), adminsUp(200)],
  [
    "dataRights.erase",
    (w) =>
      Effect.map(w.freshMember, (p) => ({ method: "POST", path: `/v1/orgs/${w.org.id}/members/${p.user.id}/erase` })),
    adminsUp(200)
  ],
  [
    "webhooks.create",
    (w) =>
      at("POST", `/v1/orgs/${w.org.id}/webhooks`, {
        url: "https://hooks.invalid/hook",
        eventTypes: ["room.created"],
        enabled: false
      }),
    adminsUp(201)
  ],
  ["webhooks.list", (w) => at("GET", `/v1/orgs/${w.org.id}/webhooks`), adminsUp(200)],
  ["webhooks.get", (w) => at("GET", `/v1/orgs/${w.org.id}/webhooks/${w.webhook.id}`), adminsUp(200)],
  [
    "webhooks.update",
    (w) => at("PATCH", `/v1/orgs/${w.org.id}/webhooks/${w.webhook.id}`, { eventTypes: ["pin.created"] }),
    adminsUp(200)
  ],
  [
    "webhooks.rotateSecret",
    (w) => at("POST", `/v1/orgs/${w.org.id}/webhooks/${w.webhook.id}/rotate-secret`),
    adminsUp(200)
  ],
  [
    "webhooks.delete",
    (w) => Effect.map(w.freshWebhook, (e) => ({ method: "DELETE", path: `/v1/orgs/${w.org.id}/webhooks/${e.id}` })),
    adminsUp(204)
  ],
  [
    "webhooks.deliveries",
    (w) => at("GET", `/v1/orgs/${w.org.id}/webhooks/${w.webhook.id}/deliveries`),
    adminsUp(200)
  ],
  // Webhooks: no bearer token counts, only the platform's signature (none here).
  [
    "gateway.webhookMessages",
    (w) => at("POST", `/v1/gateway/webhook/${w.webhookAccount.id}`, { channel: "c", user: { id: "u" }, text: "x" }),
    who({ rest: 401 })
  ],
  [
    "gateway.slackEvents",
    (w) => at("POST", `/v1/gateway/slack/${w.slackChannel.id}/events`, { type: "url_verification", challenge: "c" }),
    who({ rest: 401 })
  ],
  [
    "gateway.telegramUpdates",
    (w) => at("POST", `/v1/gateway/telegram/${w.channel.id}`, { update_id: 1 }),
    who({ rest: 401 })
  ]
]

/** Sends `r` and returns its status; an event stream is cancelled once its status is known. */
const statusOf = (r: Request, token: string | undefined) =>
  Effect.gen(function*() {
    if (r.path === "/v1/events") {
      const url = yield* baseUrl
      return yield* Effect.promise(async () => {
        const controller = new AbortController()
        const res = await fetch(`${url}${r.path}`, {
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
          signal: controller.signal
        })
        controller.abort()
        return res.status
      })
    }
    const res = yield* raw(r.method, r.path, {
      ...(r.body === undefined ? {} : { body: r.body }),
      ...(token === undefined ? {} : { token })
    })
    expect(res.status, `${r.method} ${r.path}: ${res.text}`).toBeLessThan(500)
    return res.status
  })

describe("the authorisation matrix", () => {
  layer(TestServerWithMailbox({ CHANNEL_KEY: testChannelKey }), { excludeTestServices: true, timeout: 300_000 })(
    (it) => {
      it.effect("every endpoint has a row", () =>
        Effect.sync(() => {
          const declared = Object.values(TroupeApi.groups).flatMap((group) =>
            Object.keys(group.endpoints).map((name) => `${group.identifier}.${name}`)
          )
          expect(declared.length).toBe(123)
          expect(cases.map(([endpoint]) => endpoint).sort()).toEqual([...declared].sort())
        }))

      it.effect("every endpoint answers each kind of caller as docs/access.md says", () =>
        Effect.gen(function*() {
          const w = yield* world
          const mismatches: Array<string> = []
          for (const [endpoint, request, expected] of cases) {
            for (const actor of actors) {
              const r = yield* request(w, actor)
              const status = yield* statusOf(r, "token" in r ? r.token : w.tokens[actor])
              if (status !== expected[actor]) {
                mismatches.push(`${endpoint} as ${actor}: ${status}, expected ${expected[actor]}`)
              }
            }
          }
          expect(mismatches).toEqual([])
        }), 240_000)

      it.effect("ids of another org are 404 for its outsiders, read or write", () =>
        Effect.gen(function*() {
          const w = yield* world
          const xena = w.people.outsider
          const [theirs] = yield* xena.api.orgs.list()
          const room = yield* xena.api.rooms.create({
            path: { org: theirs!.id },
            payload: { name: "theirs", kind: "private" }
          })
          const msg = yield* xena.api.messages.post({ path: { room: room.id }, payload: { text: "mine" } })
          for (
            const [method, path, body] of [
              ["GET", `/v1/rooms/${room.id}`, undefined],
              ["GET", `/v1/rooms/${room.id}/messages/${msg.id}`, undefined],
              ["PATCH", `/v1/rooms/${room.id}/messages/${msg.id}`, { text: "x" }],
              ["DELETE", `/v1/rooms/${room.id}/messages/${msg.id}`, undefined],
              ["POST", `/v1/rooms/${room.id}/messages`, { text: "x" }],
              ["GET", `/v1/rooms/${room.id}/pins`, undefined],
              ["POST", `/v1/rooms/${room.id}/pins`, { messageId: msg.id }],
              ["GET", `/v1/orgs/${theirs!.id}/teammates`, undefined]
            ] as const
          ) {
            for (const actor of ["owner", "apiKey"] as const) {
              const res = yield* raw(method, path, { token: w.tokens[actor]!, ...(body === undefined ? {} : { body }) })
              expect(res.status, `${method} ${path} as ${actor}`).toBe(404)
            }
          }
          const untouched = yield* xena.api.messages.get({ path: { room: room.id, message: msg.id } })
          expect([untouched.text, untouched.deletedAt]).toEqual(["mine", null])
        }))
    }
  )
})
