import { describe, expect, layer } from "@effect/vitest"
import { type MessageId, OrgId } from "@troupe/domain/Ids"
import { CreatedApiKey, Org } from "@troupe/domain/Org"
import { Effect, Fiber, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { baseUrl, client, person, raw, slug, TestServer, watch } from "./Harness.js"

/** An org owned by a new person, and that person. */
const orgOf = (name: string) =>
  Effect.gen(function*() {
    const owner = yield* person(name)
    const org = yield* owner.api.orgs.create({ payload: { name: `${name}'s org`, slug: slug() } })
    return { owner, org }
  })

describe("orgs", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("the creator of an org is its owner; a taken slug is 409", () =>
      Effect.gen(function*() {
        const ana = yield* person("Ana")
        const theSlug = slug()
        const res = yield* raw("POST", "/v1/orgs", { token: ana.token, body: { name: "  Acme  ", slug: theSlug } })
        expect(res.status).toBe(201)
        expect(res.json).toMatchObject({ name: "Acme", slug: theSlug, role: "owner" })
        const created = Schema.decodeUnknownSync(Org)(res.json)
        const org = yield* ana.api.orgs.get({ path: { org: created.id } })
        expect(org).toMatchObject({ name: "Acme", slug: theSlug, role: "owner" })
        const members = yield* ana.api.orgs.members({ path: { org: org.id } })
        expect(members.map((m) => [m.id, m.role])).toEqual([[ana.user.id, "owner"]])

        const ben = yield* person("Ben")
        const error = yield* Effect.flip(ben.api.orgs.create({ payload: { name: "Other", slug: theSlug } }))
        expect(error._tag).toBe("Conflict")
        expect((yield* ben.api.orgs.list()).map((o) => o.id)).toEqual([])
      }))

    it.effect("the org list shows only my orgs, with my role in each", () =>
      Effect.gen(function*() {
        const { org: a, owner: ana } = yield* orgOf("Ana")
        const { org: b, owner: ben } = yield* orgOf("Ben")
        const a2 = yield* ana.api.orgs.create({ payload: { name: "Second", slug: slug() } })
        expect((yield* ana.api.orgs.list()).map((o) => o.id)).toEqual([a.id, a2.id])
        expect((yield* ben.api.orgs.list()).map((o) => o.id)).toEqual([b.id])
        yield* ana.api.orgs.addMember({ path: { org: a.id }, payload: { email: ben.user.email, role: "guest" } })
        const bens = yield* ben.api.orgs.list()
        expect(bens.map((o) => [o.id, o.role])).toEqual([[a.id, "guest"], [b.id, "owner"]])
      }))

    it.effect("an org I am not in is 404, exactly like one that does not exist", () =>
      Effect.gen(function*() {
        const { org } = yield* orgOf("Ana")
        const eve = yield* person("Eve")
        const missing = OrgId.make(randomUUID())
        for (const path of [`/v1/orgs/${org.id}`, `/v1/orgs/${org.id}/members`, `/v1/orgs/${org.id}/rooms`]) {
          const res = yield* raw("GET", path, { token: eve.token })
          expect(res.status, path).toBe(404)
          expect(res.json).toMatchObject({ _tag: "NotFound", resource: "org" })
        }
        const hidden = yield* raw("GET", `/v1/orgs/${org.id}`, { token: eve.token })
        const absent = yield* raw("GET", `/v1/orgs/${missing}`, { token: eve.token })
        expect(absent.status).toBe(404)
        expect(hidden.text.replace(org.id, "ID")).toBe(absent.text.replace(missing, "ID"))
        const error = yield* Effect.flip(
          eve.api.orgs.addMember({ path: { org: org.id }, payload: { email: eve.user.email } })
        )
        expect(error._tag).toBe("NotFound")
      }))

    it.effect("admins and owners add members by e-mail; plain members get 403; unknown e-mails 404", () =>
      Effect.gen(function*() {
        const { org, owner: ana } = yield* orgOf("Ana")
        const ben = yield* person("Ben")
        const cat = yield* person("Cat")
        const dan = yield* person("Dan")
        const added = yield* raw("POST", `/v1/orgs/${org.id}/members`, {
          token: ana.token,
          body: { email: ben.user.email.toUpperCase() }
        })
        expect(added.status).toBe(201)
        expect(added.json).toMatchObject({ kind: "user", id: ben.user.id, role: "member", handle: ben.user.handle })
        expect((yield* ben.api.orgs.get({ path: { org: org.id } })).role).toBe("member")

        const forbidden = yield* Effect.flip(
          ben.api.orgs.addMember({ path: { org: org.id }, payload: { email: cat.user.email } })
        )
        expect(forbidden._tag).toBe("Forbidden")
        expect(yield* Effect.flip(cat.api.orgs.get({ path: { org: org.id } }))).toMatchObject({ _tag: "NotFound" })

        const unknown = yield* raw("POST", `/v1/orgs/${org.id}/members`, {
          token: ana.token,
          body: { email: "nobody.here@example.com" }
        })
        expect(unknown.status).toBe(404)
        expect(unknown.json).toMatchObject({ _tag: "NotFound", message: expect.any(String) })
        const twice = yield* Effect.flip(
          ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
        )
        expect(twice._tag).toBe("Conflict")

        yield* ana.api.orgs.changeRole({ path: { org: org.id, user: ben.user.id }, payload: { role: "admin" } })
        const cats = yield* ben.api.orgs.addMember({
          path: { org: org.id },
          payload: { email: cat.user.email, role: "admin" }
        })
        expect(cats.role).toBe("admin")
        const ownerByAdmin = yield* Effect.flip(
          ben.api.orgs.addMember({ path: { org: org.id }, payload: { email: dan.user.email, role: "owner" } })
        )
        expect(ownerByAdmin._tag).toBe("Forbidden")

        const members = yield* ana.api.orgs.members({ path: { org: org.id } })
        expect(members.map((m) => [m.id, m.role])).toEqual([
          [ana.user.id, "owner"],
          [ben.user.id, "admin"],
          [cat.user.id, "admin"]
        ])
        expect((yield* ben.api.orgs.members({ path: { org: org.id } })).length).toBe(3)
      }))

    it.effect("only owners grant the owner role; the last owner cannot be demoted or removed", () =>
      Effect.gen(function*() {
        const { org, owner: ana } = yield* orgOf("Ana")
        const ben = yield* person("Ben")
        const cat = yield* person("Cat")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email, role: "admin" } })
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: cat.user.email } })

        const byAdmin = yield* Effect.flip(
          ben.api.orgs.changeRole({ path: { org: org.id, user: cat.user.id }, payload: { role: "owner" } })
        )
        expect(byAdmin._tag).toBe("Forbidden")
        const selfPromote = yield* Effect.flip(
          ben.api.orgs.changeRole({ path: { org: org.id, user: ben.user.id }, payload: { role: "owner" } })
        )
        expect(selfPromote._tag).toBe("Forbidden")
        const demoteOwner = yield* Effect.flip(
          ben.api.orgs.changeRole({ path: { org: org.id, user: ana.user.id }, payload: { role: "member" } })
        )
        expect(demoteOwner._tag).toBe("Forbidden")
        const byMember = yield* Effect.flip(
          cat.api.orgs.changeRole({ path: { org: org.id, user: cat.user.id }, payload: { role: "admin" } })
        )
        expect(byMember._tag).toBe("Forbidden")
        // an admin may change non-owner roles
        const catAdmin = yield* ben.api.orgs.changeRole({
          path: { org: org.id, user: cat.user.id },
          payload: { role: "admin" }
        })
        expect(catAdmin.role).toBe("admin")

        const demoteLast = yield* raw("PATCH", `/v1/orgs/${org.id}/members/${ana.user.id}`, {
          token: ana.token,
          body: { role: "admin" }
        })
        expect(demoteLast.status).toBe(409)
        expect(demoteLast.json).toMatchObject({ _tag: "Conflict", message: expect.any(String) })
        const removeLast = yield* raw("DELETE", `/v1/orgs/${org.id}/members/${ana.user.id}`, { token: ana.token })
        expect(removeLast.status).toBe(409)
        expect((yield* ana.api.orgs.get({ path: { org: org.id } })).role).toBe("owner")

        const benOwner = yield* ana.api.orgs.changeRole({
          path: { org: org.id, user: ben.user.id },
          payload: { role: "owner" }
        })
        expect(benOwner.role).toBe("owner")
        // with two owners, one may step down
        const anaAdmin = yield* ana.api.orgs.changeRole({
          path: { org: org.id, user: ana.user.id },
          payload: { role: "admin" }
        })
        expect(anaAdmin.role).toBe("admin")
        const benLast = yield* Effect.flip(ben.api.orgs.removeMember({ path: { org: org.id, user: ben.user.id } }))
        expect(benLast._tag).toBe("Conflict")
        const members = yield* ben.api.orgs.members({ path: { org: org.id } })
        expect(members.map((m) => [m.id, m.role])).toEqual([
          [ana.user.id, "admin"],
          [ben.user.id, "owner"],
          [cat.user.id, "admin"]
        ])
      }))

    it.effect("a removed member loses access at once", () =>
      Effect.gen(function*() {
        const { org, owner: ana } = yield* orgOf("Ana")
        const ben = yield* person("Ben")
        const cat = yield* person("Cat")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: cat.user.email } })
        const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        yield* ben.api.rooms.join({ path: { room: room.id } })
        yield* ben.api.messages.post({ path: { room: room.id }, payload: { text: "hi" } })

        const byMember = yield* Effect.flip(cat.api.orgs.removeMember({ path: { org: org.id, user: ben.user.id } }))
        expect(byMember._tag).toBe("Forbidden")
        expect((yield* ben.api.orgs.get({ path: { org: org.id } })).role).toBe("member")

        const removed = yield* raw("DELETE", `/v1/orgs/${org.id}/members/${ben.user.id}`, { token: ana.token })
        expect(removed.status).toBe(204)
        const get = yield* raw("GET", `/v1/orgs/${org.id}`, { token: ben.token })
        expect(get.status).toBe(404)
        expect(get.json).toMatchObject({ _tag: "NotFound" })
        expect(yield* Effect.flip(ben.api.rooms.get({ path: { room: room.id } }))).toMatchObject({ _tag: "NotFound" })
        expect(yield* Effect.flip(ben.api.messages.post({ path: { room: room.id }, payload: { text: "still here?" } })))
          .toMatchObject({ _tag: "NotFound" })
        expect((yield* ben.api.orgs.list()).map((o) => o.id)).toEqual([])
        const members = yield* ana.api.orgs.members({ path: { org: org.id } })
        expect(members.map((m) => m.id)).toEqual([ana.user.id, cat.user.id])
        expect((yield* ana.api.rooms.members({ path: { room: room.id } })).map((m) => m.id)).toEqual([ana.user.id])
        const page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(page.messages.map((m) => m.text)).toEqual(["hi"])

        // a member may leave on their own
        yield* cat.api.orgs.removeMember({ path: { org: org.id, user: cat.user.id } })
        expect(yield* Effect.flip(cat.api.orgs.get({ path: { org: org.id } }))).toMatchObject({ _tag: "NotFound" })
      }))

    it.effect("a new org has #general; people who join as members join it, guests do not", () =>
      Effect.gen(function*() {
        const { org, owner: ana } = yield* orgOf("Ana")
        const listing = yield* ana.api.rooms.list({ path: { org: org.id } })
        expect(listing.rooms.map((r) => [r.name, r.kind, r.joined])).toEqual([["general", "public", true]])
        const general = listing.rooms[0]!
        const ben = yield* person("Ben")
        const gus = yield* person("Gus")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: gus.user.email, role: "guest" } })
        const members = yield* ana.api.rooms.members({ path: { room: general.id } })
        expect(members.map((m) => m.id).sort()).toEqual([ana.user.id, ben.user.id].sort())
        expect((yield* ben.api.rooms.list({ path: { org: org.id } })).rooms.map((r) => [r.id, r.joined])).toEqual([
          [general.id, true]
        ])
        expect((yield* gus.api.rooms.list({ path: { org: org.id } })).rooms).toEqual([])
        // Once archived, the default room takes nobody new.
        yield* ana.api.rooms.archive({ path: { room: general.id } })
        const cy = yield* person("Cy")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: cy.user.email } })
        expect((yield* cy.api.rooms.list({ path: { org: org.id } })).rooms.filter((r) => r.joined)).toEqual([])
      }))

    it.effect("admins rename the org; members and guests hear of it; the slug stays", () =>
      Effect.gen(function*() {
        const { org, owner: ana } = yield* orgOf("Ana")
        const ben = yield* person("Ben")
        const gus = yield* person("Gus")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: gus.user.email, role: "guest" } })
        const { position } = yield* ben.api.rooms.list({ path: { org: org.id } })
        const heard = yield* watch({
          baseUrl: yield* baseUrl,
          token: ben.token,
          lastEventId: position,
          count: 1,
          keep: (d) => d.event.type === "org.updated"
        })
        const heardByGuest = yield* watch({
          baseUrl: yield* baseUrl,
          token: gus.token,
          lastEventId: position,
          count: 1,
          keep: (d) => d.event.type === "org.updated"
        })
        const refused = yield* raw("PATCH", `/v1/orgs/${org.id}`, { token: ben.token, body: { name: "Mine now" } })
        expect(refused.status).toBe(403)
        const renamed = yield* raw("PATCH", `/v1/orgs/${org.id}`, {
          token: ana.token,
          body: { name: "  Acme Rockets  " }
        })
        expect(renamed.json).toMatchObject({ id: org.id, name: "Acme Rockets", slug: org.slug, role: "owner" })
        const [event] = yield* Fiber.join(heard)
        expect(event?.event).toMatchObject({ type: "org.updated", orgId: org.id, name: "Acme Rockets" })
        expect((yield* Fiber.join(heardByGuest)).map((d) => d.event)).toEqual([event?.event])
        expect((yield* ben.api.orgs.get({ path: { org: org.id } })).name).toBe("Acme Rockets")
        for (const body of [{ name: "" }, { name: "x".repeat(101) }, {}]) {
          expect((yield* raw("PATCH", `/v1/orgs/${org.id}`, { token: ana.token, body })).status).toBe(400)
        }
        expect((yield* ana.api.orgs.get({ path: { org: org.id } })).name).toBe("Acme Rockets")
      }))

    it.effect("guests see only the rooms they were added to", () =>
      Effect.gen(function*() {
        const { org, owner: ana } = yield* orgOf("Ana")
        const gus = yield* person("Gus")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: gus.user.email, role: "guest" } })
        // The org's default room, which members join with the org and guests do not.
        const [general] = (yield* ana.api.rooms.list({ path: { org: org.id } })).rooms
        if (general === undefined) return expect.fail("a new org has its default room")
        expect(general.name).toBe("general")
        const lobby = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "lobby" } })
        const secret = yield* ana.api.rooms.create({
          path: { org: org.id },
          payload: { name: "secret", kind: "private" }
        })
        yield* ana.api.messages.post({ path: { room: general.id }, payload: { text: "members only" } })
        yield* ana.api.rooms.addMember({ path: { room: lobby.id }, payload: { userId: gus.user.id } })

        const listing = yield* gus.api.rooms.list({ path: { org: org.id } })
        expect(listing.rooms.map((r) => r.id)).toEqual([lobby.id])
        expect(listing.rooms[0]!.joined).toBe(true)
        const anas = yield* ana.api.rooms.list({ path: { org: org.id } })
        expect(anas.rooms.map((r) => r.id)).toEqual([general.id, lobby.id, secret.id])

        expect((yield* gus.api.rooms.get({ path: { room: lobby.id } })).id).toBe(lobby.id)
        yield* gus.api.messages.post({ path: { room: lobby.id }, payload: { text: "hello from a guest" } })
        for (const room of [general.id, secret.id]) {
          const res = yield* raw("GET", `/v1/rooms/${room}`, { token: gus.token })
          expect(res.status).toBe(404)
          expect(res.json).toMatchObject({ _tag: "NotFound", resource: "room" })
          const messages = yield* raw("GET", `/v1/rooms/${room}/messages`, { token: gus.token })
          expect(messages.status).toBe(404)
          expect(yield* Effect.flip(gus.api.rooms.join({ path: { room } }))).toMatchObject({ _tag: "NotFound" })
        }
        const hits = yield* gus.api.orgs.search({ path: { org: org.id }, urlParams: { q: "members" } })
        expect(hits).toEqual([])
      }))

    it.effect("API keys: shown once, act with their role in their org only, and stop at once when revoked", () =>
      Effect.gen(function*() {
        const { org, owner: ana } = yield* orgOf("Ana")
        const other = yield* ana.api.orgs.create({ payload: { name: "Other", slug: slug() } })
        const ben = yield* person("Ben")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email, role: "admin" } })
        const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })

        const created = yield* raw("POST", `/v1/orgs/${org.id}/api-keys`, {
          token: ben.token,
          body: { name: "ci bot" }
        })
        expect(created.status).toBe(201)
        const { key, secret } = Schema.decodeUnknownSync(CreatedApiKey)(created.json)
        expect(key.role).toBe("member")
        expect(secret.startsWith("trp_k_")).toBe(true)
        expect(secret.startsWith(key.prefix)).toBe(true)
        expect(secret.length).toBeGreaterThan(key.prefix.length + 16)

        const listed = yield* raw("GET", `/v1/orgs/${org.id}/api-keys`, { token: ana.token })
        expect(listed.status).toBe(200)
        expect(listed.json).toMatchObject([{ id: key.id, name: "ci bot", role: "member", createdBy: ben.user.id }])
        expect(listed.text).not.toContain(secret)
        expect(listed.text).not.toContain("secret")

        const bot = yield* client(secret)
        const me = yield* bot.auth.me()
        expect(me.name).toBe("ci bot")
        expect((yield* bot.orgs.get({ path: { org: org.id } })).role).toBe("member")
        expect((yield* bot.orgs.list()).map((o) => o.id)).toEqual([org.id])
        yield* bot.rooms.join({ path: { room: room.id } })
        const posted = yield* bot.messages.post({ path: { room: room.id }, payload: { text: "build passed" } })
        expect(posted.authorId).toBe(me.id)
        const page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(page.messages.map((m) => [m.text, m.authorName])).toEqual([["build passed", "ci bot"]])

        const addMember = yield* raw("POST", `/v1/orgs/${org.id}/members`, {
          token: secret,
          body: { email: ana.user.email }
        })
        expect(addMember.status).toBe(403)
        expect(addMember.json).toMatchObject({ _tag: "Forbidden" })
        expect(yield* Effect.flip(bot.orgs.createApiKey({ path: { org: org.id }, payload: { name: "child" } })))
          .toMatchObject({ _tag: "Forbidden" })
        expect(yield* Effect.flip(bot.orgs.create({ payload: { name: "Bot org", slug: slug() } })))
          .toMatchObject({ _tag: "Forbidden" })
        const elsewhere = yield* raw("GET", `/v1/orgs/${other.id}`, { token: secret })
        expect(elsewhere.status).toBe(404)
        expect(elsewhere.json).toMatchObject({ _tag: "NotFound" })

        // a key is revoked only through its own org
        const wrongOrg = yield* raw("DELETE", `/v1/orgs/${other.id}/api-keys/${key.id}`, { token: ana.token })
        expect(wrongOrg.status).toBe(404)
        expect((yield* bot.auth.me()).id).toBe(me.id)

        const revoked = yield* raw("DELETE", `/v1/orgs/${org.id}/api-keys/${key.id}`, { token: ana.token })
        expect(revoked.status).toBe(204)
        for (const path of ["/v1/auth/me", `/v1/orgs/${org.id}`, `/v1/rooms/${room.id}/messages`]) {
          const res = yield* raw("GET", path, { token: secret })
          expect(res.status, path).toBe(401)
          expect(res.json).toMatchObject({ _tag: "Unauthorized" })
        }
        expect(yield* ana.api.orgs.apiKeys({ path: { org: org.id } })).toEqual([])
        const again = yield* raw("DELETE", `/v1/orgs/${org.id}/api-keys/${key.id}`, { token: ana.token })
        expect(again.status).toBe(404)
      }))

    it.effect("an admin key acts as an admin; a key never has more power than its creator", () =>
      Effect.gen(function*() {
        const { org, owner: ana } = yield* orgOf("Ana")
        const ben = yield* person("Ben")
        const cat = yield* person("Cat")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email, role: "admin" } })
        const tooStrong = yield* Effect.flip(
          ben.api.orgs.createApiKey({ path: { org: org.id }, payload: { name: "root", role: "owner" } })
        )
        expect(tooStrong._tag).toBe("InvalidInput")
        const created = yield* ben.api.orgs.createApiKey({
          path: { org: org.id },
          payload: { name: "ops", role: "admin" }
        })
        expect(created.key.role).toBe("admin")
        const bot = yield* client(created.secret)
        const added = yield* bot.orgs.addMember({ path: { org: org.id }, payload: { email: cat.user.email } })
        expect(added.id).toBe(cat.user.id)
        // removing the key's bot member from the org revokes the key
        const me = yield* bot.auth.me()
        yield* ana.api.orgs.removeMember({ path: { org: org.id, user: me.id } })
        expect(yield* Effect.flip(bot.orgs.get({ path: { org: org.id } }))).toMatchObject({ _tag: "Unauthorized" })
        expect(yield* ana.api.orgs.apiKeys({ path: { org: org.id } })).toEqual([])
      }))

    it.effect("members cannot create, list or revoke API keys", () =>
      Effect.gen(function*() {
        const { org, owner: ana } = yield* orgOf("Ana")
        const ben = yield* person("Ben")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
        const create = yield* raw("POST", `/v1/orgs/${org.id}/api-keys`, { token: ben.token, body: { name: "mine" } })
        expect(create.status).toBe(403)
        expect(create.json).toMatchObject({ _tag: "Forbidden", message: expect.any(String) })
        const key = yield* ana.api.orgs.createApiKey({ path: { org: org.id }, payload: { name: "ana's" } })
        expect(yield* Effect.flip(ben.api.orgs.apiKeys({ path: { org: org.id } }))).toMatchObject({ _tag: "Forbidden" })
        expect(yield* Effect.flip(ben.api.orgs.revokeApiKey({ path: { org: org.id, key: key.key.id } })))
          .toMatchObject({ _tag: "Forbidden" })
        expect((yield* ana.api.orgs.apiKeys({ path: { org: org.id } })).map((k) => k.id)).toEqual([key.key.id])
        expect((yield* (yield* client(key.secret)).auth.me()).name).toBe("ana's")
      }))
  })

  layer(TestServer({ RATE_USER_WRITES_PER_MIN: "5" }), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("the 6th write in a minute by one person is 429 with Retry-After and stores nothing", () =>
      Effect.gen(function*() {
        // Ben's setup spends three of his own writes; Ana starts with her full allowance
        const { org, owner: ben } = yield* orgOf("Ben")
        const ana = yield* person("Ana")
        yield* ben.api.orgs.addMember({ path: { org: org.id }, payload: { email: ana.user.email } })
        const room = yield* ben.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        yield* ben.api.rooms.addMember({ path: { room: room.id }, payload: { userId: ana.user.id } })

        const accepted: Array<MessageId> = []
        for (let i = 1; i <= 5; i++) {
          const message = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: `message ${i}` } })
          accepted.push(message.id)
        }
        const limited = yield* raw("POST", `/v1/rooms/${room.id}/messages`, {
          token: ana.token,
          body: { text: "one too many" }
        })
        expect(limited.status).toBe(429)
        expect(limited.json).toMatchObject({ _tag: "RateLimited", message: expect.any(String) })
        const retryAfter = Number(limited.headers.get("retry-after"))
        expect(retryAfter).toBeGreaterThan(0)
        expect(retryAfter).toBeLessThanOrEqual(60)
        expect(limited.json).toMatchObject({ retryAfterSeconds: retryAfter })
        // other kinds of write count against the same allowance
        const edit = yield* Effect.flip(ana.api.messages.edit({
          path: { room: room.id, message: accepted[0]! },
          payload: { text: "edited" }
        }))
        expect(edit._tag).toBe("RateLimited")

        // reads still work, and only the accepted messages were stored
        const page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(page.messages.map((m) => m.id)).toEqual(accepted)
        expect(page.messages.map((m) => m.text)).toEqual([1, 2, 3, 4, 5].map((i) => `message ${i}`))

        // the limit is per person: Ben still has writes left
        yield* ben.api.messages.post({ path: { room: room.id }, payload: { text: "from ben" } })
        const after = yield* ben.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(after.messages.length).toBe(6)
      }))
  })

  layer(TestServer({ ORG_CONCURRENT_WRITES: "1" }), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("with one write slot per org, an org's writes queue and all complete; each frees its slot", () =>
      Effect.gen(function*() {
        const { org, owner: ana } = yield* orgOf("Ana")
        const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        for (let i = 0; i < 5; i++) {
          yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: `one by one ${i}` } })
        }
        const together = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => `together ${i}`),
          (text) => ana.api.messages.post({ path: { room: room.id }, payload: { text } }),
          { concurrency: "unbounded" }
        )
        expect(new Set(together.map((m) => m.text)).size).toBe(12)
        // a write refused after taking its slot frees it too
        const archived = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "old" } })
        yield* ana.api.rooms.archive({ path: { room: archived.id } })
        const refused = yield* raw("POST", `/v1/rooms/${archived.id}/messages`, {
          token: ana.token,
          body: { text: "too late" }
        })
        expect(refused.status).toBe(409)
        const after = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "after" } })
        expect(after.text).toBe("after")
        const page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: { limit: 100 } })
        expect(page.messages.length).toBe(18)
      }))
  })
})
