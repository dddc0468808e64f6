import { describe, expect, layer } from "@effect/vitest"
import type { Event } from "@troupe/domain/Event"
import { Duration, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { AccountRepo } from "../src/AccountRepo.js"
import * as Database from "../src/Database.js"
import { EventLog, LogWaker } from "../src/EventLog.js"
import { OrgRepo } from "../src/OrgRepo.js"

const Repos = Layer.mergeAll(AccountRepo.Default, OrgRepo.Default, EventLog.Default).pipe(
  Layer.provide(LogWaker.none),
  Layer.provideMerge(Database.layerTest)
)

const password = "long enough pw"
const hour = Duration.hours(1)

const someone = (name: string) =>
  Effect.flatMap(
    AccountRepo,
    (accounts) => accounts.signup({ email: `${name}-${randomBytes(4).toString("hex")}@example.com`, password, name })
  )

/** The events logged after `position`. */
const eventsAfter = (position: number) =>
  Effect.flatMap(
    EventLog,
    (log) =>
      Effect.map(log.readAfter(position, 1000), (events) =>
        events.map((e): { orgId: string | null; event: Event; userIds: ReadonlyArray<string> } => ({
          orgId: e.orgId,
          event: e.delivered.event,
          userIds: e.audience.userIds
        })))
  )

const head = Effect.flatMap(EventLog, (log) => Effect.map(log.head(), (h) => h.position))

describe("accounts in the database", () => {
  layer(Repos, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a reset link sets the password once, ends every session and signs in with a new one", () =>
      Effect.gen(function*() {
        const accounts = yield* AccountRepo
        const ana = yield* someone("ana")
        const before = yield* head
        const issued = yield* accounts.requestPasswordReset(ana.user.email.toUpperCase(), hour)
        expect(issued._tag).toBe("Some")
        if (issued._tag !== "Some") return
        expect(issued.value.token.startsWith("trp_r_")).toBe(true)
        const session = yield* accounts.confirmPasswordReset(issued.value.token, "a brand new password")
        expect(session.user).toMatchObject({ id: ana.user.id, email: ana.user.email, handle: ana.user.handle })
        expect((yield* accounts.authenticate(session.token)).user.id).toBe(ana.user.id)
        expect((yield* Effect.flip(accounts.authenticate(ana.token)))._tag).toBe("Unauthorized")
        const revoked = (yield* eventsAfter(before)).filter((e) => e.event.type === "access.revoked")
        expect(revoked).toEqual([{ orgId: null, event: expect.anything(), userIds: [ana.user.id] }])
        expect((yield* Effect.flip(accounts.login(ana.user.email, password)))._tag).toBe("Unauthorized")
        expect((yield* accounts.login(ana.user.email, "a brand new password")).user.id).toBe(ana.user.id)
        const again = yield* Effect.flip(accounts.confirmPasswordReset(issued.value.token, "yet another password"))
        expect(again).toMatchObject({ _tag: "Conflict", message: expect.stringContaining("already used") })
        const unknown = yield* Effect.flip(accounts.confirmPasswordReset("trp_r_unknown", "yet another password"))
        expect(unknown._tag).toBe("NotFound")
      }))

    it.effect("no link for an address without an account, nor for a bot", () =>
      Effect.gen(function*() {
        const accounts = yield* AccountRepo
        expect(
          (yield* accounts.requestPasswordReset(`nobody-${randomBytes(4).toString("hex")}@example.com`, hour))._tag
        )
          .toBe("None")
        const bot = yield* accounts.createBot("ci")
        expect(bot.email).toBe("")
        expect((yield* accounts.requestPasswordReset("", hour))._tag).toBe("None")
      }))

    it.effect("a new request replaces the open link, even when requests come at once; an expired link is refused", () =>
      Effect.gen(function*() {
        const accounts = yield* AccountRepo
        const admin = yield* Database.AdminSql
        const ben = yield* someone("ben")
        const first = yield* accounts.requestPasswordReset(ben.user.email, hour)
        const together = yield* Effect.all(
          Array.from({ length: 4 }, () => accounts.requestPasswordReset(ben.user.email, hour)),
          { concurrency: "unbounded" }
        )
        const open = yield* admin<{ n: number }>`
          SELECT count(*)::int AS n FROM password_resets
          WHERE user_id = ${ben.user.id} AND used_at IS NULL AND replaced_at IS NULL`
        expect(open[0]?.n).toBe(1)
        if (first._tag !== "Some") return expect.fail("no link")
        const replaced = yield* Effect.flip(accounts.confirmPasswordReset(first.value.token, "a brand new password"))
        expect(replaced).toMatchObject({ _tag: "Conflict", message: expect.stringContaining("newer") })
        // Only the last of the simultaneous requests is open; the others were replaced.
        const results = yield* Effect.forEach(together, (issued) =>
          issued._tag === "Some"
            ? Effect.either(accounts.confirmPasswordReset(issued.value.token, "a brand new password"))
            : Effect.die("no link"))
        expect(results.filter((r) => r._tag === "Right")).toHaveLength(1)

        const late = yield* accounts.requestPasswordReset(ben.user.email, hour)
        if (late._tag !== "Some") return expect.fail("no link")
        yield* admin`UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE user_id = ${ben.user.id}`
        const expired = yield* Effect.flip(accounts.confirmPasswordReset(late.value.token, "a brand new password"))
        expect(expired).toMatchObject({ _tag: "Conflict", message: expect.stringContaining("expired") })
      }))

    it.effect("changing the password needs the current one and ends the other sessions only", () =>
      Effect.gen(function*() {
        const accounts = yield* AccountRepo
        const cai = yield* someone("cai")
        const other = yield* accounts.login(cai.user.email, password)
        const caller = yield* accounts.authenticate(cai.token)
        const wrong = yield* Effect.flip(
          accounts.changePassword(cai.user, caller.credential.id, "not the password", "a brand new password")
        )
        expect(wrong).toMatchObject({ _tag: "Forbidden", message: "the current password is wrong" })
        const before = yield* head
        yield* accounts.changePassword(cai.user, caller.credential.id, password, "a brand new password")
        expect((yield* accounts.authenticate(cai.token)).user.id).toBe(cai.user.id)
        expect((yield* Effect.flip(accounts.authenticate(other.token)))._tag).toBe("Unauthorized")
        const events = yield* eventsAfter(before)
        const otherSession = yield* Effect.map(
          Database.AdminSql,
          (admin) =>
            admin<{ id: string }>`SELECT id FROM sessions WHERE user_id = ${cai.user.id} AND revoked_at IS NOT NULL`
        ).pipe(Effect.flatten)
        expect(events.map((e) => e.event)).toEqual([
          expect.objectContaining({ type: "access.revoked", credentialId: otherSession[0]?.id })
        ])
        expect((yield* accounts.login(cai.user.email, "a brand new password")).user.id).toBe(cai.user.id)
      }))

    it.effect("a profile change is logged once in each org of the person; a taken handle is a conflict", () =>
      Effect.gen(function*() {
        const accounts = yield* AccountRepo
        const orgs = yield* OrgRepo
        const dee = yield* someone("dee")
        const eli = yield* someone("eli")
        const tag = randomBytes(3).toString("hex")
        const one = yield* orgs.create(dee.user, { name: "One", slug: `one-${tag}` })
        const two = yield* orgs.create(eli.user, { name: "Two", slug: `two-${tag}` })
        yield* orgs.addMember(two.id, dee.user, "guest")
        const before = yield* head
        const handle = `dee-${tag}`
        const updated = yield* accounts.updateProfile(dee.user, { name: "Dee Dee", handle })
        expect(updated).toMatchObject({ id: dee.user.id, email: dee.user.email, name: "Dee Dee", handle })
        const events = yield* eventsAfter(before)
        expect(events.map((e) => e.orgId).sort()).toEqual([one.id, two.id].sort())
        for (const e of events) {
          expect(e.event).toMatchObject({ type: "user.updated", user: { id: dee.user.id, name: "Dee Dee", handle } })
          expect(e.userIds).toEqual([dee.user.id])
        }
        const taken = yield* Effect.flip(accounts.updateProfile(eli.user, { handle }))
        expect(taken).toMatchObject({ _tag: "Conflict", message: expect.stringContaining(`@${handle}`) })
        expect(yield* eventsAfter(before)).toHaveLength(2)
        // The same handle again is no change for its holder.
        expect((yield* accounts.updateProfile(dee.user, { handle })).handle).toBe(handle)
      }))
  })
})
