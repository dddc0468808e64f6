import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import type { OrgId } from "@troupe/domain/Ids"
import { BlobStore, local } from "@troupe/store/BlobStore"
import { EventLog, LogWaker } from "@troupe/store/EventLog"
import { FileRepo } from "@troupe/store/FileRepo"
import { purgeClosedOrgs } from "@troupe/store/OrgPurge"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { withOrg } from "@troupe/store/OrgScope"
import { pruneClusterMessages, snowflakeCutoff, sweepOrphanFiles } from "@troupe/teammates/Retention"
import { Duration, Effect, Fiber, Layer, Option } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  anaAndBen,
  anaBenAndTeammate,
  baseUrl,
  eventually,
  fileForm,
  person,
  raw,
  readEvents,
  slug,
  TestServerWithModel,
  watch
} from "./Harness.js"

const filesDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "troupe-retention-files-"))

/** The store's repos over the test server's database and `filesDir`, as a node's retention job has them. */
const storeLayer = Layer.mergeAll(FileRepo.Default, OrgRepo.Default).pipe(
  Layer.provide(Layer.effect(BlobStore, local(filesDir))),
  Layer.provide(LogWaker.none)
)

/** How many rows of the org each table holds (read inside the org's scope, as the app would). */
const rowsOf = (orgId: OrgId) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    withOrg(orgId)(
      sql<{ orgs: number; rooms: number; messages: number; files: number; teammates: number; events: number }>`
        SELECT (SELECT count(*)::int FROM orgs WHERE id = ${orgId}) AS orgs,
          (SELECT count(*)::int FROM rooms WHERE org_id = ${orgId}) AS rooms,
          (SELECT count(*)::int FROM messages WHERE org_id = ${orgId}) AS messages,
          (SELECT count(*)::int FROM files WHERE org_id = ${orgId}) AS files,
          (SELECT count(*)::int FROM teammates WHERE org_id = ${orgId}) AS teammates,
          (SELECT count(*)::int FROM events WHERE org_id = ${orgId}) AS events`
    ).pipe(Effect.map((rows) => rows[0]!)))

describe("retention", () => {
  layer(TestServerWithModel({ FILE_STORAGE_DIR: filesDir }), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a deleted room's file contents stop counting at once and are removed, bytes too, by the sweep", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { ana, org, room } = yield* anaAndBen
        const bytes = randomBytes(1000)
        const upload = yield* raw("POST", `/v1/rooms/${room.id}/files`, { token: ana.token, body: fileForm(bytes) })
        expect(upload.status).toBe(201)
        const sha = createHash("sha256").update(bytes).digest("hex")
        const onDisk = Path.join(filesDir, org.id, sha.slice(0, 2), sha)
        expect(Fs.existsSync(onDisk)).toBe(true)
        expect((yield* ana.api.files.usage({ path: { org: org.id } })).usedBytes).toBe(1000)

        yield* ana.api.rooms.delete({ path: { room: room.id } })
        expect((yield* ana.api.files.usage({ path: { org: org.id } })).usedBytes).toBe(0)
        const sweep = sweepOrphanFiles.pipe(
          Effect.provide(
            FileRepo.Default.pipe(
              Layer.provide(Layer.effect(BlobStore, local(filesDir))),
              Layer.provide(LogWaker.none)
            )
          )
        )
        expect(yield* sweep).toBeGreaterThanOrEqual(1)
        expect(Fs.existsSync(onDisk)).toBe(false)
        const left = yield* sql`SELECT 1 FROM blobs WHERE sha256 = ${sha}`
        expect(left).toHaveLength(0)
      }))

    it.effect("an owner deletes the org: its members hear it, it is gone at once, and its rows, events and bytes go", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* anaBenAndTeammate
        const bytes = randomBytes(500)
        expect((yield* raw("POST", `/v1/rooms/${room.id}/files`, { token: ana.token, body: fileForm(bytes) })).status)
          .toBe(201)
        const sha = createHash("sha256").update(bytes).digest("hex")
        const onDisk = Path.join(filesDir, org.id, sha.slice(0, 2), sha)
        yield* ben.api.messages.post({ path: { room: room.id }, payload: { text: "before the end" } })
        const key = yield* ana.api.orgs.createApiKey({ path: { org: org.id }, payload: { name: "ci" } })
        // Another org, which must not notice.
        const cat = yield* person("Cat")
        const other = yield* cat.api.orgs.create({ payload: { name: "Other", slug: slug() } })
        const otherRoom = yield* cat.api.rooms.create({ path: { org: other.id }, payload: { name: "ops" } })
        yield* cat.api.messages.post({ path: { room: otherRoom.id }, payload: { text: "still here" } })
        const otherBefore = yield* rowsOf(other.id)

        const before = yield* rowsOf(org.id)
        expect(before).toMatchObject({ orgs: 1, rooms: 2, files: 1, teammates: 1 })
        expect(before.messages).toBeGreaterThan(0)
        expect(Fs.existsSync(onDisk)).toBe(true)

        // A wrong or missing confirmation, a member, an admin and the org's own key are all refused.
        const wrong = yield* raw("DELETE", `/v1/orgs/${org.id}?confirm=nope`, { token: ana.token })
        expect(wrong.status).toBe(422)
        expect(wrong.json).toMatchObject({ _tag: "InvalidInput" })
        expect(wrong.json).toMatchObject({ message: expect.stringContaining(org.slug) })
        expect((yield* raw("DELETE", `/v1/orgs/${org.id}`, { token: ana.token })).status).toBe(400)
        const byMember = yield* raw("DELETE", `/v1/orgs/${org.id}?confirm=${org.slug}`, { token: ben.token })
        expect(byMember.status).toBe(403)
        yield* ana.api.orgs.changeRole({ path: { org: org.id, user: ben.user.id }, payload: { role: "admin" } })
        expect((yield* raw("DELETE", `/v1/orgs/${org.id}?confirm=${org.slug}`, { token: ben.token })).status).toBe(403)
        const owned = yield* ana.api.orgs.createApiKey({ path: { org: org.id }, payload: { name: "o", role: "owner" } })
        expect((yield* raw("DELETE", `/v1/orgs/${org.id}?confirm=${org.slug}`, { token: owned.secret })).status)
          .toBe(403)
        expect(yield* rowsOf(org.id)).toMatchObject({ orgs: 1, rooms: 2, files: 1 })

        const { position } = yield* ben.api.rooms.list({ path: { org: org.id } })
        const heard = yield* watch({
          baseUrl: yield* baseUrl,
          token: ben.token,
          lastEventId: position,
          count: 1,
          keep: (d) => d.event.type === "org.deleted"
        })
        const revoked = yield* watch({
          baseUrl: yield* baseUrl,
          token: key.secret,
          lastEventId: position,
          count: 1,
          keep: (d) => d.event.type === "access.revoked"
        })
        const deleted = yield* raw("DELETE", `/v1/orgs/${org.id}?confirm=${org.slug}`, { token: ana.token })
        expect(deleted.status).toBe(204)
        const [event] = yield* Fiber.join(heard)
        expect(event).toMatchObject({ orgId: org.id, event: { type: "org.deleted", orgId: org.id, name: org.name } })
        const [last] = yield* Fiber.join(revoked)
        expect(last?.event).toMatchObject({ type: "access.revoked", credential: "api_key" })

        for (const who of [ana, ben]) {
          expect((yield* raw("GET", `/v1/orgs/${org.id}`, { token: who.token })).status).toBe(404)
          expect((yield* raw("GET", `/v1/rooms/${room.id}/messages`, { token: who.token })).status).toBe(404)
          expect((yield* who.api.orgs.list()).map((o) => o.id)).not.toContain(org.id)
        }
        expect((yield* raw("GET", "/v1/orgs", { token: key.secret })).status).toBe(401)
        expect(yield* rowsOf(org.id)).toEqual({ orgs: 0, rooms: 0, messages: 0, files: 0, teammates: 0, events: 0 })
        expect(Fs.existsSync(onDisk)).toBe(false)
        // The slug is free again; the other org kept everything.
        expect((yield* raw("POST", "/v1/orgs", { token: ana.token, body: { name: "Again", slug: org.slug } })).status)
          .toBe(201)
        expect(yield* rowsOf(other.id)).toEqual(otherBefore)
        expect((yield* raw("DELETE", `/v1/orgs/${org.id}?confirm=${org.slug}`, { token: ana.token })).status).toBe(404)
      }))

    it.effect("a deleted org whose purge was cut short is purged by the sweep", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* anaAndBen
        const bytes = randomBytes(300)
        expect((yield* raw("POST", `/v1/rooms/${room.id}/files`, { token: ana.token, body: fileForm(bytes) })).status)
          .toBe(201)
        const sha = createHash("sha256").update(bytes).digest("hex")
        const onDisk = Path.join(filesDir, org.id, sha.slice(0, 2), sha)
        // Closed, as the delete does first, and the node stopped before purging.
        yield* Effect.flatMap(OrgRepo, (orgs) => orgs.close(org.id, org.slug)).pipe(Effect.provide(storeLayer))
        expect((yield* raw("GET", `/v1/orgs/${org.id}`, { token: ana.token })).status).toBe(404)
        expect(yield* rowsOf(org.id)).toMatchObject({ orgs: 1, files: 1 })
        expect(Fs.existsSync(onDisk)).toBe(true)

        expect(yield* purgeClosedOrgs(100).pipe(Effect.provide(storeLayer))).toBeGreaterThanOrEqual(1)
        expect(yield* rowsOf(org.id)).toEqual({ orgs: 0, rooms: 0, messages: 0, files: 0, teammates: 0, events: 0 })
        expect(Fs.existsSync(onDisk)).toBe(false)
      }))

    it.effect("processed trigger messages older than the retention are deleted with their replies; newer ones stay", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const ana = yield* person("Ana")
        const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
        const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        const mate = yield* ana.api.teammates.hire({ path: { org: org.id }, payload: { template: "researcher" } })
        yield* ana.api.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: mate.id } })
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "@rhea hello" } })
        const count = sql<{ messages: number; replies: number }>`
          SELECT (SELECT count(*)::int FROM cluster_messages WHERE processed) AS messages,
                 (SELECT count(*)::int FROM cluster_replies) AS replies`
        const before = yield* eventually(
          Effect.map(count, (rows) => rows[0]!.messages > 0 ? Option.some(rows[0]!) : Option.none())
        )
        expect(before.replies).toBeGreaterThan(0)
        expect(yield* pruneClusterMessages(Duration.hours(1))).toBe(0)
        expect((yield* count)[0]).toEqual(before)
        // An hour from now, they are all older than a minute.
        const pruned = yield* pruneClusterMessages(Duration.minutes(1), Date.now() + 60 * 60 * 1000)
        expect(pruned).toBe(before.messages)
        expect((yield* count)[0]).toEqual({ messages: 0, replies: 0 })
        expect(BigInt(snowflakeCutoff(Duration.millis(0), Date.UTC(2025, 0, 1) + 1000))).toBe(
          BigInt(1000) << BigInt(22)
        )
      }))

    it.effect("events older than the retention period are pruned and a cursor from before them gets a reset", () =>
      Effect.gen(function*() {
        const log = yield* Effect.provide(EventLog, EventLog.Default.pipe(Layer.provide(LogWaker.none)))
        const ana = yield* person("Ana")
        const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
        const { position } = yield* ana.api.rooms.list({ path: { org: org.id } })
        yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        expect(yield* log.prune(3600)).toBe(0)
        const pruned = yield* log.prune(0)
        expect(pruned).toBeGreaterThan(0)
        const head = yield* log.head()
        expect(head.retainedFrom).toBe(head.position + 1)
        const events = yield* readEvents({ baseUrl: yield* baseUrl, token: ana.token, lastEventId: position, count: 1 })
        expect(events.map((d) => d.event.type)).toEqual(["reset"])
      }))
  })
})
