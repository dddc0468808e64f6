/**
 * A person's own account: their name and handle (every org they are in
 * hears of a change), their password (the other sessions end), and a new
 * password through a mailed link when they forgot it (the answer never says
 * whether an account uses the address; the link works once, for a while,
 * and ends every session).
 */
import { describe, expect, layer } from "@effect/vitest"
import type { Delivered } from "@troupe/domain/Event"
import * as Database from "@troupe/store/Database"
import { Mailbox } from "@troupe/workspace/Mailer"
import { SmtpCapture } from "@troupe/workspace/testing/SmtpServer"
import { Effect, Fiber, HashMap, Layer, Logger, Option, Queue, Schema } from "effect"
import { randomBytes } from "node:crypto"
import {
  anaAndBen,
  baseUrl,
  client,
  durable,
  email,
  mailedResetToken,
  person,
  raw,
  resetToken,
  slug,
  TestServer,
  TestServerWithMailbox,
  TestServerWithSmtp,
  watch
} from "./Harness.js"

const password = "correct horse battery"

/** Watches `token`'s stream for `count` events of `type`. */
const watchFor = (token: string, type: Delivered["event"]["type"], count = 1) =>
  Effect.flatMap(baseUrl, (url) => watch({ baseUrl: url, token, count, keep: (d) => d.event.type === type }))

const tag = () => randomBytes(3).toString("hex")

describe("a person's own account", () => {
  layer(TestServerWithMailbox({ PUBLIC_URL: "https://chat.example.com/" }), {
    excludeTestServices: true,
    timeout: 120_000
  })((it) => {
    it.effect("a new name and handle reach every org of the person as user.updated, and mentions follow the handle", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* anaAndBen
        const cai = yield* person("Cai")
        const other = yield* cai.api.orgs.create({ payload: { name: "Other", slug: slug() } })
        yield* cai.api.orgs.addMember({ path: { org: other.id }, payload: { email: ana.user.email } })
        // Guests: Gus shares a room with Ana, Gia only a room without her.
        const gus = yield* person("Gus")
        const gia = yield* person("Gia")
        for (const guest of [gus, gia]) {
          yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: guest.user.email, role: "guest" } })
        }
        yield* ana.api.rooms.addMember({ path: { room: room.id }, payload: { userId: gus.user.id } })
        const side = yield* ben.api.rooms.create({ path: { org: org.id }, payload: { name: "side", kind: "private" } })
        yield* ben.api.rooms.addMember({ path: { room: side.id }, payload: { userId: gia.user.id } })
        const guss = yield* watchFor(gus.token, "user.updated")
        const gias = yield* Effect.flatMap(baseUrl, (url) =>
          watch({
            baseUrl: url,
            token: gia.token,
            count: 1,
            keep: (d) => d.event.type === "user.updated" || d.event.type === "message.created"
          }))
        const bens = yield* watchFor(ben.token, "user.updated")
        const cais = yield* watchFor(cai.token, "user.updated")
        const anas = yield* watchFor(ana.token, "user.updated", 2)
        const handle = `ana.lima-${tag()}`
        const res = yield* raw("PATCH", "/v1/auth/me", { token: ana.token, body: { name: "  Ana Lima ", handle } })
        expect(res.status, res.text).toBe(200)
        expect(res.json).toMatchObject({ id: ana.user.id, email: ana.user.email, name: "Ana Lima", handle })
        const profile = { type: "user.updated", user: { id: ana.user.id, name: "Ana Lima", handle, avatar: null } }
        const seenByBen = yield* Fiber.join(bens)
        expect(seenByBen.map((d) => [d.orgId, d.event])).toEqual([[org.id, profile]])
        // Public fields only: no e-mail address travels to the org.
        expect(JSON.stringify(seenByBen)).not.toContain(ana.user.email)
        expect((yield* Fiber.join(guss)).map((d) => [d.orgId, d.event])).toEqual([[org.id, profile]])
        // Gia hears the next thing in her room, and nothing of Ana before it.
        yield* ben.api.messages.post({ path: { room: side.id }, payload: { text: "for Gia" } })
        expect((yield* Fiber.join(gias)).map((d) => d.event.type)).toEqual(["message.created"])
        expect((yield* Fiber.join(cais)).map((d) => d.orgId)).toEqual([other.id])
        expect((yield* Fiber.join(anas)).map((d) => d.orgId).sort()).toEqual([org.id, other.id].sort())
        expect(yield* ana.api.auth.me()).toMatchObject({ name: "Ana Lima", handle })
        const members = yield* ben.api.orgs.members({ path: { org: org.id } })
        expect(members.find((m) => m.id === ana.user.id)).toMatchObject({ name: "Ana Lima", handle })
        const mention = yield* ben.api.messages.post({ path: { room: room.id }, payload: { text: `hi @${handle}` } })
        expect(mention.mentions.map((m) => m.id)).toEqual([ana.user.id])
        // Only the name: the handle stays.
        expect(yield* ana.api.auth.updateMe({ payload: { name: "Ana" } })).toMatchObject({ name: "Ana", handle })
      }))

    it.effect("a handle someone has, or a teammate has in one of the person's orgs, is 409; bad input is 400", () =>
      Effect.gen(function*() {
        const { ana, ben, org } = yield* anaAndBen
        const update = (body: unknown, token = ana.token) => raw("PATCH", "/v1/auth/me", { token, body })
        const taken = yield* update({ handle: ben.user.handle })
        expect([taken.status, taken.json]).toEqual([409, {
          _tag: "Conflict",
          message: `@${ben.user.handle} is taken; pick another handle`
        }])
        const teammate = `rhea-${tag()}`
        yield* ben.api.teammates.hire({ path: { org: org.id }, payload: { template: "researcher", handle: teammate } })
        const clash = yield* update({ handle: teammate })
        expect([clash.status, clash.json]).toEqual([409, {
          _tag: "Conflict",
          message: `@${teammate} is a teammate in Acme; pick another handle`
        }])
        // Nothing changed, and the org heard of nothing.
        expect(yield* ana.api.auth.me()).toMatchObject({ name: "Ana", handle: ana.user.handle })
        for (
          const [body, field] of [
            [{ handle: "Has Spaces" }, "handle"],
            [{ handle: "x" }, "handle"],
            [{ handle: 42 }, "handle"],
            [{ name: "   " }, "name"],
            [{ name: "n".repeat(101) }, "name"]
          ] as const
        ) {
          const res = yield* update(body)
          expect(res.status, JSON.stringify(body)).toBe(400)
          expect(res.json).toMatchObject({ _tag: "MalformedRequest", message: expect.stringContaining(field) })
        }
        expect((yield* update("{\"name\": ")).status).toBe(400)
        expect((yield* raw("PATCH", "/v1/auth/me", { body: { name: "Nobody" } })).status).toBe(401)
        const key = yield* ana.api.orgs.createApiKey({ path: { org: org.id }, payload: { name: "ci" } })
        const byKey = yield* update({ name: "Bot" }, key.secret)
        expect([byKey.status, byKey.json]).toEqual([403, expect.objectContaining({ _tag: "Forbidden" })])
        // Nothing to change is no change.
        expect(yield* ana.api.auth.updateMe({ payload: {} })).toMatchObject({ name: "Ana", handle: ana.user.handle })
      }))

    it.effect("a new password needs the current one; the other sessions end with access.revoked, this one stays", () =>
      Effect.gen(function*() {
        const { ana, org } = yield* anaAndBen
        const anonymous = yield* client()
        const other = yield* anonymous.auth.login({ payload: { email: ana.user.email, password } })
        const change = (body: unknown, token = ana.token) => raw("POST", "/v1/auth/password", { token, body })
        const wrong = yield* change({ currentPassword: "not the password", newPassword: "a new long password" })
        expect([wrong.status, wrong.json]).toEqual([403, {
          _tag: "Forbidden",
          message: "the current password is wrong"
        }])
        const short = yield* change({ currentPassword: password, newPassword: "short" })
        expect([short.status, short.json]).toEqual([
          400,
          expect.objectContaining({
            _tag: "MalformedRequest",
            message: expect.stringContaining("newPassword")
          })
        ])
        expect((yield* change({ currentPassword: password })).status).toBe(400)
        expect(
          (yield* raw("POST", "/v1/auth/password", { body: { currentPassword: password, newPassword: "x" } })).status
        )
          .toBe(401)
        const key = yield* ana.api.orgs.createApiKey({ path: { org: org.id }, payload: { name: "ci" } })
        const byKey = yield* change({ currentPassword: password, newPassword: "a new long password" }, key.secret)
        expect([byKey.status, byKey.json]).toEqual([403, expect.objectContaining({ _tag: "Forbidden" })])

        const ended = yield* watchFor(other.token, "access.revoked")
        const url = yield* baseUrl
        const kept = yield* watch({ baseUrl: url, token: ana.token, count: 1, keep: durable })
        expect((yield* change({ currentPassword: password, newPassword: "a new long password" })).status).toBe(204)
        const [revoked] = yield* Fiber.join(ended)
        expect(revoked?.event).toMatchObject({ type: "access.revoked", reason: "the password was changed" })
        expect((yield* raw("GET", "/v1/auth/me", { token: other.token })).status).toBe(401)
        expect((yield* ana.api.auth.me()).id).toBe(ana.user.id)
        // Ana's own stream goes on: the next event it gets is the room she creates, not the end of her access.
        yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "after" } })
        expect((yield* Fiber.join(kept)).map((d) => d.event.type)).toEqual(["room.created"])
        const old = yield* raw("POST", "/v1/auth/login", { body: { email: ana.user.email, password } })
        expect(old.status).toBe(401)
        const fresh = yield* anonymous.auth.login({
          payload: { email: ana.user.email, password: "a new long password" }
        })
        expect(fresh.user.id).toBe(ana.user.id)
      }))

    it.effect("a reset link: the same 202 for any address, mailed to an account's, works once and ends every session", () =>
      Effect.gen(function*() {
        const box = yield* Mailbox
        const ana = yield* person("Ana")
        const other = yield* (yield* client()).auth.login({ payload: { email: ana.user.email, password } })
        const nobody = email("nobody")
        const known = yield* raw("POST", "/v1/auth/password-reset", { body: { email: ana.user.email.toUpperCase() } })
        const unknown = yield* raw("POST", "/v1/auth/password-reset", { body: { email: nobody } })
        expect([known.status, unknown.status]).toEqual([202, 202])
        expect(known.text).toBe(unknown.text)
        expect(known.json).toEqual({
          message: "If an account uses that address, a link to choose a new password is on its way."
        })
        const [mail] = yield* box.received(ana.user.email)
        expect(mail?.subject).toBe("Choose a new Troupe password")
        const token = resetToken(mail?.text ?? "")
        expect(mail?.text).toContain(`https://chat.example.com/reset#${token}`)
        expect(token.startsWith("trp_r_")).toBe(true)
        expect((yield* box.sent).filter((m) => m.to === nobody)).toEqual([])

        const streams = [yield* watchFor(ana.token, "access.revoked"), yield* watchFor(other.token, "access.revoked")]
        const confirm = (body: unknown) => raw("POST", "/v1/auth/password-reset/confirm", { body })
        const short = yield* confirm({ token, newPassword: "short" })
        expect([short.status, short.json]).toEqual([400, expect.objectContaining({ _tag: "MalformedRequest" })])
        const res = yield* confirm({ token, newPassword: "a brand new password" })
        expect(res.status, res.text).toBe(200)
        expect(res.json).toMatchObject({ user: { id: ana.user.id, email: ana.user.email }, token: expect.any(String) })
        for (const stream of streams) {
          const [revoked] = yield* Fiber.join(stream)
          expect(revoked?.event).toMatchObject({ type: "access.revoked", reason: "the password was reset" })
        }
        for (const old of [ana.token, other.token]) {
          expect((yield* raw("GET", "/v1/auth/me", { token: old })).status).toBe(401)
        }
        const session = Schema.decodeUnknownSync(Schema.Struct({ token: Schema.String }))(res.json)
        expect((yield* raw("GET", "/v1/auth/me", { token: session.token })).status).toBe(200)
        const login = (pw: string) => raw("POST", "/v1/auth/login", { body: { email: ana.user.email, password: pw } })
        expect((yield* login(password)).status).toBe(401)
        expect((yield* login("a brand new password")).status).toBe(200)

        const again = yield* confirm({ token, newPassword: "yet another password" })
        expect([again.status, again.json]).toEqual([409, {
          _tag: "Conflict",
          message: "this password-reset link was already used; ask for a new one"
        }])
        const unknownToken = yield* confirm({ token: "trp_r_nothing", newPassword: "yet another password" })
        expect([unknownToken.status, unknownToken.json]).toEqual([404, {
          _tag: "NotFound",
          resource: "password reset",
          message: "this password-reset link is not valid; ask for a new one"
        }])
        expect((yield* confirm({ token: "", newPassword: "yet another password" })).status).toBe(400)
        expect((yield* confirm("{\"token\":")).status).toBe(400)
        expect((yield* raw("POST", "/v1/auth/password-reset", { body: { email: "not an address" } })).status).toBe(400)
        expect((yield* login("yet another password")).status).toBe(401)
      }))

    it.effect("a newer link replaces the earlier one; an expired link is refused", () =>
      Effect.gen(function*() {
        const admin = yield* Database.AdminSql
        const ben = yield* person("Ben")
        const anonymous = yield* client()
        const ask = anonymous.auth.requestPasswordReset({ payload: { email: ben.user.email } })
        yield* ask
        const first = yield* mailedResetToken(ben.user.email, 1)
        yield* ask
        const second = yield* mailedResetToken(ben.user.email, 2)
        expect(second).not.toBe(first)
        const confirm = (token: string) =>
          raw("POST", "/v1/auth/password-reset/confirm", { body: { token, newPassword: "a brand new password" } })
        const replaced = yield* confirm(first)
        expect([replaced.status, replaced.json]).toEqual([
          409,
          expect.objectContaining({
            message: "a newer password-reset link replaced this one; use the newest, or ask for a new one"
          })
        ])
        yield* admin`UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE user_id = ${ben.user.id}`
        const expired = yield* confirm(second)
        expect([expired.status, expired.json]).toEqual([
          409,
          expect.objectContaining({
            message: "this password-reset link has expired; ask for a new one"
          })
        ])
        expect((yield* ben.api.auth.me()).id).toBe(ben.user.id)
      }))
  })

  layer(
    TestServerWithMailbox({ RATE_PASSWORD_RESET_PER_HOUR: "2", RATE_PASSWORD_RESET_PER_ADDRESS_PER_HOUR: "5" }),
    { excludeTestServices: true, timeout: 120_000 }
  )((it) => {
    it.effect("reset requests are limited per address and per client, alike for accounts and unknown addresses", () =>
      Effect.gen(function*() {
        const cai = yield* person("Cai")
        const ask = (address: string) => raw("POST", "/v1/auth/password-reset", { body: { email: address } })
        const nobody = email("nobody")
        for (const address of [cai.user.email, nobody]) {
          expect([(yield* ask(address)).status, (yield* ask(address)).status]).toEqual([202, 202])
          const limited = yield* ask(address)
          expect(limited.status).toBe(429)
          expect(limited.json).toMatchObject({
            _tag: "RateLimited",
            message: expect.stringContaining("password-reset")
          })
          expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
        }
        // Four counted from this client so far (the refused ones stop at the address's limit): one more, then none.
        expect((yield* ask(email("third"))).status).toBe(202)
        expect((yield* ask(email("fourth"))).status).toBe(429)
      }))
  })

  layer(TestServerWithSmtp({ MAIL_FROM: "Acme chat <chat@acme.example>", PUBLIC_URL: "https://acme.example/chat" }), {
    excludeTestServices: true,
    timeout: 120_000
  })((it) => {
    it.effect("with SMTP_URL the link is mailed through SMTP from MAIL_FROM, and it works", () =>
      Effect.gen(function*() {
        const smtp = yield* SmtpCapture
        const dee = yield* person("Dee")
        yield* (yield* client()).auth.requestPasswordReset({ payload: { email: dee.user.email } })
        const [mail] = yield* smtp.received(dee.user.email)
        expect(mail).toMatchObject({
          from: "chat@acme.example",
          headers: { subject: "Choose a new Troupe password", from: "Acme chat <chat@acme.example>" }
        })
        const token = resetToken(mail?.text ?? "")
        expect(mail?.text).toContain(`\nhttps://acme.example/chat/reset#${token}\n`)
        const session = yield* (yield* client()).auth.confirmPasswordReset({
          payload: { token, newPassword: "a brand new password" }
        })
        expect(session.user.id).toBe(dee.user.id)
      }))
  })

  // Without SMTP_URL, the link is in the server's log (at warn level) for the operator to pass on.
  const warnings = Effect.runSync(Queue.unbounded<{ readonly text: string; readonly requestId: unknown }>())
  const capture = Logger.make(({ annotations, logLevel, message }) => {
    if (logLevel.label === "WARN") {
      Queue.unsafeOffer(warnings, {
        text: Array.isArray(message) ? message.join(" ") : String(message),
        requestId: Option.getOrUndefined(HashMap.get(annotations, "requestId"))
      })
    }
  })
  layer(TestServer().pipe(Layer.provide(Logger.add(capture))), { excludeTestServices: true, timeout: 120_000 })(
    (it) => {
      it.effect("without SMTP_URL the link is written to the log, and it works", () =>
        Effect.gen(function*() {
          const eve = yield* person("Eve")
          const asked = yield* raw("POST", "/v1/auth/password-reset", {
            body: { email: eve.user.email },
            headers: { "x-request-id": "reset-eve" }
          })
          expect(asked.status).toBe(202)
          let warning: { readonly text: string; readonly requestId: unknown } = { text: "", requestId: undefined }
          while (!warning.text.includes(eve.user.email)) warning = yield* Queue.take(warnings)
          const line = warning.text
          expect(warning.requestId).toBe("reset-eve")
          expect(line).toContain(`SMTP_URL is not set, so this mail was not sent; pass it on to ${eve.user.email}`)
          const token = resetToken(line)
          // Without PUBLIC_URL, links use HOST and PORT (the defaults here: the test server's own port is another).
          expect(line).toContain(`http://127.0.0.1:8787/reset#${token}`)
          const session = yield* (yield* client()).auth.confirmPasswordReset({
            payload: { token, newPassword: "a brand new password" }
          })
          expect(session.user.id).toBe(eve.user.id)
        }))
    }
  )
})
