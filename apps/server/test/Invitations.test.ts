/**
 * Invitations: someone with no account yet is invited by e-mail, opens the
 * link, signs up with that address and joins with the invited role; the
 * link works once, for that address only, until it expires or is revoked.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Database from "@troupe/store/Database"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { anaAndBen, baseUrl, client, email, person, raw, readEvents, slug, TestServer } from "./Harness.js"

const signUpAs = (address: string, name: string) =>
  Effect.gen(function*() {
    const session = yield* (yield* client()).auth.signup({
      payload: { email: address, password: "correct horse battery", name }
    })
    return { ...session, api: yield* client(session.token) }
  })

describe("invitations", () => {
  layer(TestServer({ PUBLIC_URL: "https://chat.example.com/" }), { excludeTestServices: true, timeout: 120_000 })(
    (it) => {
      it.effect("a person without an account is invited, signs up with that address and joins with the role", () =>
        Effect.gen(function*() {
          const { ana, org } = yield* anaAndBen
          const address = email("cleo")
          // Adding an address without an account points to invitations.
          const refused = yield* raw("POST", `/v1/orgs/${org.id}/members`, {
            token: ana.token,
            body: { email: address }
          })
          expect([refused.status, refused.text]).toEqual([404, expect.stringContaining("invite them instead")])

          const created = yield* ana.api.invitations.create({
            path: { org: org.id },
            payload: { email: address.toUpperCase(), role: "guest" }
          })
          expect(created.invitation).toMatchObject({
            email: address,
            role: "guest",
            status: "pending",
            invitedBy: { id: ana.user.id, name: "Ana" }
          })
          expect(created.url).toBe(`https://chat.example.com/invite#${created.token}`)
          expect(created.invitation.expiresAt.getTime() - Date.now()).toBeGreaterThan(6.9 * 24 * 3600 * 1000)

          // The link's holder sees what they are invited to, without an account.
          const preview = yield* (yield* client()).invitations.preview({ payload: { token: created.token } })
          expect(preview).toMatchObject({
            orgName: "Acme",
            email: address,
            role: "guest",
            invitedBy: "Ana",
            status: "pending"
          })

          // Someone else signed in cannot use it.
          const other = yield* person("Mallory")
          const wrong = yield* raw("POST", "/v1/invitations/accept", {
            token: other.token,
            body: { token: created.token }
          })
          expect([wrong.status, wrong.text]).toEqual([403, expect.stringContaining(address)])
          expect(yield* other.api.orgs.list()).toEqual([])

          const cleo = yield* signUpAs(address, "Cleo")
          const joined = yield* cleo.api.invitations.accept({ payload: { token: created.token } })
          expect(joined).toMatchObject({ id: org.id, name: "Acme", role: "guest" })
          expect((yield* cleo.api.orgs.list()).map((o) => [o.id, o.role])).toEqual([[org.id, "guest"]])
          const members = yield* ana.api.orgs.members({ path: { org: org.id } })
          expect(members.find((m) => m.id === cleo.user.id)?.role).toBe("guest")
          // The org hears of it like any other new member.
          const joinedEvents = yield* readEvents({
            baseUrl: yield* baseUrl,
            token: ana.token,
            lastEventId: "0",
            count: 1,
            keep: (d) => d.event.type === "org.member.joined" && d.event.member.id === cleo.user.id
          })
          expect(joinedEvents).toHaveLength(1)

          // Used once: a second accept, and the admin's list, say so.
          const again = yield* raw("POST", "/v1/invitations/accept", {
            token: cleo.token,
            body: { token: created.token }
          })
          expect([again.status, again.text]).toEqual([409, expect.stringContaining("already accepted")])
          const listed = yield* ana.api.invitations.list({ path: { org: org.id } })
          expect(listed.find((i) => i.id === created.invitation.id)).toMatchObject({
            status: "accepted",
            acceptedBy: cleo.user.id
          })
          const revokeAccepted = yield* raw("DELETE", `/v1/orgs/${org.id}/invitations/${created.invitation.id}`, {
            token: ana.token
          })
          expect(revokeAccepted.status).toBe(409)
          // An existing member cannot be invited.
          const member = yield* raw("POST", `/v1/orgs/${org.id}/invitations`, {
            token: ana.token,
            body: { email: address }
          })
          expect([member.status, member.text]).toEqual([409, expect.stringContaining("already a member")])
        }))

      it.effect("revoked, replaced and expired links stop working; nothing is joined", () =>
        Effect.gen(function*() {
          const sql = yield* Database.AdminSql
          const { ana, org } = yield* anaAndBen
          const address = email("dan")
          const first = yield* ana.api.invitations.create({ path: { org: org.id }, payload: { email: address } })
          const second = yield* ana.api.invitations.create({ path: { org: org.id }, payload: { email: address } })
          const dan = yield* signUpAs(address, "Dan")
          const replaced = yield* raw("POST", "/v1/invitations/accept", {
            token: dan.token,
            body: { token: first.token }
          })
          expect([replaced.status, replaced.text]).toEqual([409, expect.stringContaining("revoked")])

          const revoked = yield* ana.api.invitations.revoke({
            path: { org: org.id, invitation: second.invitation.id }
          })
          expect(revoked.status).toBe("revoked")
          const afterRevoke = yield* raw("POST", "/v1/invitations/accept", {
            token: dan.token,
            body: { token: second.token }
          })
          expect(afterRevoke.status).toBe(409)
          const preview = yield* (yield* client()).invitations.preview({ payload: { token: second.token } })
          expect(preview.status).toBe("revoked")

          const third = yield* ana.api.invitations.create({ path: { org: org.id }, payload: { email: address } })
          yield* sql`UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE id = ${third.invitation.id}`
          const expired = yield* raw("POST", "/v1/invitations/accept", {
            token: dan.token,
            body: { token: third.token }
          })
          expect([expired.status, expired.text]).toEqual([409, expect.stringContaining("expired")])
          expect(yield* dan.api.orgs.list()).toEqual([])
          const listed = yield* ana.api.invitations.list({ path: { org: org.id } })
          expect(listed.filter((i) => i.email === address).map((i) => i.status)).toEqual([
            "expired",
            "revoked",
            "revoked"
          ])
        }))

      it.effect("who may invite, and bad input", () =>
        Effect.gen(function*() {
          const { ana, ben, org } = yield* anaAndBen
          // Ben is a member: no inviting, no listing.
          const byMember = yield* raw("POST", `/v1/orgs/${org.id}/invitations`, {
            token: ben.token,
            body: { email: email("x") }
          })
          expect(byMember.status).toBe(403)
          expect((yield* raw("GET", `/v1/orgs/${org.id}/invitations`, { token: ben.token })).status).toBe(403)
          // An admin invites up to their own role; nobody is invited as owner.
          yield* ana.api.orgs.changeRole({ path: { org: org.id, user: ben.user.id }, payload: { role: "admin" } })
          const asAdmin = yield* ben.api.invitations.create({
            path: { org: org.id },
            payload: { email: email("y"), role: "admin" }
          })
          expect(asAdmin.invitation.role).toBe("admin")
          for (
            const [body, status] of [
              [{ email: email("z"), role: "owner" }, 400],
              [{ email: "not an address" }, 400],
              [{}, 400],
              ["{not json", 400]
            ] as const
          ) {
            const res = yield* raw("POST", `/v1/orgs/${org.id}/invitations`, { token: ana.token, body })
            expect(res.status).toBe(status)
          }
          // Unknown tokens and ids, and another org's invitation, are 404.
          const unknown = yield* raw("POST", "/v1/invitations/preview", { body: { token: "trp_i_nothing" } })
          expect(unknown.status).toBe(404)
          expect((yield* raw("POST", "/v1/invitations/preview", { body: { token: "" } })).status).toBe(400)
          const anonymousAccept = yield* raw("POST", "/v1/invitations/accept", { body: { token: asAdmin.token } })
          expect(anonymousAccept.status).toBe(401)
          const elsewhere = yield* ana.api.orgs.create({ payload: { name: "Elsewhere", slug: slug() } })
          const foreign = yield* raw("DELETE", `/v1/orgs/${elsewhere.id}/invitations/${asAdmin.invitation.id}`, {
            token: ana.token
          })
          expect(foreign.status).toBe(404)
          const missing = yield* raw("DELETE", `/v1/orgs/${org.id}/invitations/${randomUUID()}`, { token: ana.token })
          expect(missing.status).toBe(404)
          // Nothing of the above changed the pending invitation.
          const preview = yield* (yield* client()).invitations.preview({ payload: { token: asAdmin.token } })
          expect(preview.status).toBe("pending")
        }))
    }
  )
})
