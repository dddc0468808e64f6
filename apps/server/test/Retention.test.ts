import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { BlobStore, local } from "@troupe/store/BlobStore"
import { EventLog, LogWaker } from "@troupe/store/EventLog"
import { FileRepo } from "@troupe/store/FileRepo"
import { pruneClusterMessages, snowflakeCutoff, sweepOrphanFiles } from "@troupe/teammates/Retention"
import { Duration, Effect, Layer, Option } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  anaAndBen,
  baseUrl,
  eventually,
  fileForm,
  person,
  raw,
  readEvents,
  slug,
  TestServerWithModel
} from "./Harness.js"

const filesDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "troupe-retention-files-"))

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
