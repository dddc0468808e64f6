/**
 * Files through the public API: upload into a room's library, download with
 * the room's access rules, the same bytes stored once per org, attachments
 * on messages, deletion, the size limit and the org's quota, and bad input.
 */
import { describe, expect, layer } from "@effect/vitest"
import { UserProfile } from "@troupe/domain/User"
import { Effect, Fiber, Schema } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { answer, download, fileOf, sha256, text, upload } from "./FileApi.js"
import { anaAndBen, baseUrl, fileForm, person, raw, readEvents, slug, TestServer, watch } from "./Harness.js"

const MAX = 100_000

/** Uploads `bytes` as a stream with no declared length, so only the server's reading can stop it. */
const uploadStreamed = (token: string, roomId: string, bytes: Uint8Array) =>
  Effect.flatMap(baseUrl, (url) =>
    Effect.promise(async () => {
      const boundary = `----troupe${randomBytes(8).toString("hex")}`
      const head = new TextEncoder().encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
          `Content-Type: application/octet-stream\r\n\r\n`
      )
      const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`)
      const chunks = [
        head,
        ...Array.from(
          { length: Math.ceil(bytes.length / 16_384) },
          (_, i) => bytes.subarray(i * 16_384, (i + 1) * 16_384)
        ),
        tail
      ]
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift()
          if (next === undefined) controller.close()
          else controller.enqueue(next)
        }
      })
      const init: RequestInit & { duplex: "half" } = {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": `multipart/form-data; boundary=${boundary}` },
        body,
        duplex: "half"
      }
      return answer(await fetch(`${url}/v1/rooms/${roomId}/files`, init))
    }))

const png = new Uint8Array([
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
  0,
  0,
  0,
  13,
  0x49,
  0x48,
  0x44,
  0x52,
  0,
  0,
  0,
  1,
  0,
  0,
  0,
  1,
  8,
  6,
  0,
  0,
  0,
  0x1f,
  0x15,
  0xc4,
  0x89
])

describe("files", () => {
  layer(TestServer({ FILE_MAX_BYTES: String(MAX), FILE_ORG_QUOTA_BYTES: "250000" }), {
    excludeTestServices: true,
    timeout: 120_000
  })((it) => {
    it.effect("an upload is listed, downloaded byte for byte, announced to the room, and counted once", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* anaAndBen
        const bytes = text(`minutes of the ${randomUUID()} meeting\n`)
        const file = fileOf(
          yield* upload(ana.token, room.id, bytes, { name: "../../minutes.md", type: "text/markdown" })
        )
        expect(file).toMatchObject({
          roomId: room.id,
          orgId: org.id,
          name: "minutes.md",
          declaredType: "text/markdown",
          contentType: "text/markdown",
          size: bytes.length,
          sha256: sha256(bytes),
          uploaderId: ana.user.id,
          uploaderName: "Ana",
          messageId: null
        })

        const got = yield* download(ben.token, room.id, file.id)
        expect(got.status).toBe(200)
        expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true)
        expect(got.headers.get("content-type")).toBe("text/markdown")
        expect(got.headers.get("etag")).toBe(`"${sha256(bytes)}"`)
        expect(got.headers.get("x-content-type-options")).toBe("nosniff")
        expect(got.headers.get("content-disposition")).toContain("filename*=UTF-8''minutes.md")
        const again = yield* download(ben.token, room.id, file.id, { "if-none-match": `"${sha256(bytes)}"` })
        expect(again.status).toBe(304)

        const listed = yield* ben.api.files.list({ path: { room: room.id }, urlParams: {} })
        expect(listed.map((f) => f.id)).toEqual([file.id])
        const events = yield* readEvents({
          baseUrl: yield* baseUrl,
          token: ben.token,
          lastEventId: "0",
          count: 1,
          keep: (d) => d.event.type === "file.created"
        })
        expect(events.map((d) => d.event.type === "file.created" && d.event.file.id)).toEqual([file.id])

        // The same bytes from someone else are a second file over the same stored content.
        const copy = fileOf(yield* upload(ben.token, room.id, bytes, { name: "copy.md" }))
        expect(copy.id).not.toBe(file.id)
        expect(copy).toMatchObject({ sha256: sha256(bytes), name: "copy.md" })
        const usage = yield* ana.api.files.usage({ path: { org: org.id } })
        expect(usage).toEqual({ usedBytes: bytes.length, quotaBytes: 250_000, maxFileBytes: MAX })

        // Deleting one copy leaves the other readable; deleting both frees the storage.
        yield* ben.api.files.delete({ path: { room: room.id, file: copy.id } })
        expect((yield* download(ana.token, room.id, file.id)).status).toBe(200)
        expect((yield* download(ana.token, room.id, copy.id)).status).toBe(404)
        yield* ana.api.files.delete({ path: { room: room.id, file: file.id } })
        expect((yield* ana.api.files.usage({ path: { org: org.id } })).usedBytes).toBe(0)
        expect(yield* ana.api.files.list({ path: { room: room.id }, urlParams: {} })).toEqual([])
        const deleted = yield* readEvents({
          baseUrl: yield* baseUrl,
          token: ben.token,
          lastEventId: "0",
          count: 2,
          keep: (d) => d.event.type === "file.deleted"
        })
        expect(deleted.map((d) => d.event.type === "file.deleted" && d.event.file.id)).toEqual([copy.id, file.id])
      }))

    it.effect("the type served is what the bytes are, not what the uploader declared", () =>
      Effect.gen(function*() {
        const { ana, room } = yield* anaAndBen
        const image = fileOf(yield* upload(ana.token, room.id, png, { name: "pixel.txt", type: "text/plain" }))
        expect(image).toMatchObject({ declaredType: "text/plain", contentType: "image/png" })
        const binary = new Uint8Array([0, 1, 2, 3, 255, 254, 0, 7])
        const blob = fileOf(yield* upload(ana.token, room.id, binary, { name: "page.html", type: "text/html" }))
        expect(blob).toMatchObject({ declaredType: "text/html", contentType: "application/octet-stream" })
        const odd = fileOf(yield* upload(ana.token, room.id, text("plain words"), { type: "application/x-odd" }))
        expect(odd.contentType).toBe("text/plain")
        const served = yield* download(ana.token, room.id, blob.id)
        expect(served.headers.get("content-type")).toBe("application/octet-stream")
        expect(served.headers.get("content-disposition")).toMatch(/^attachment;/)
      }))

    it.effect("a message carries the files its author attaches, once, and drops a deleted one", () =>
      Effect.gen(function*() {
        const { ana, ben, room } = yield* anaAndBen
        const a = fileOf(yield* upload(ana.token, room.id, text(`plan ${randomUUID()}`), { name: "plan.txt" }))
        const b = fileOf(yield* upload(ana.token, room.id, png, { name: "chart.png", type: "image/png" }))
        const message = yield* ana.api.messages.post({
          path: { room: room.id },
          payload: { text: "the plan and the chart", attachments: [a.id, b.id] }
        })
        expect(message.attachments.map((x) => [x.name, x.contentType])).toEqual([
          ["plan.txt", "text/plain"],
          ["chart.png", "image/png"]
        ])
        const file = yield* ben.api.files.get({ path: { room: room.id, file: a.id } })
        expect(file.messageId).toBe(message.id)

        // A file goes with one message, and only its uploader attaches it.
        const twice = yield* raw("POST", `/v1/rooms/${room.id}/messages`, {
          token: ana.token,
          body: { text: "again", attachments: [a.id] }
        })
        expect([twice.status, twice.text]).toEqual([422, expect.stringContaining("already attached")])
        const benFile = fileOf(yield* upload(ben.token, room.id, text("ben's")))
        const borrowed = yield* raw("POST", `/v1/rooms/${room.id}/messages`, {
          token: ana.token,
          body: { text: "mine now", attachments: [benFile.id] }
        })
        expect(borrowed.status).toBe(422)
        const tooMany = yield* raw("POST", `/v1/rooms/${room.id}/messages`, {
          token: ana.token,
          body: { text: "many", attachments: Array.from({ length: 11 }, () => randomUUID()) }
        })
        expect(tooMany.status).toBe(400)

        // Ben may not delete Ana's file; Ana (the org's owner) may delete Ben's.
        const refused = yield* raw("DELETE", `/v1/rooms/${room.id}/files/${a.id}`, { token: ben.token })
        expect([refused.status, refused.text]).toEqual([403, expect.stringContaining("uploaded")])
        yield* ana.api.files.delete({ path: { room: room.id, file: benFile.id } })

        yield* ana.api.files.delete({ path: { room: room.id, file: a.id } })
        const after = yield* ben.api.messages.get({ path: { room: room.id, message: message.id } })
        expect(after.attachments.map((x) => x.name)).toEqual(["chart.png"])
      }))

    it.effect("a file over the limit is 413, whether its length is declared or not, and nothing is kept", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* anaAndBen
        const declared = yield* upload(ana.token, room.id, randomBytes(MAX + 1))
        expect(declared.status).toBe(413)
        expect(declared.json).toMatchObject({ _tag: "PayloadTooLarge", limitBytes: MAX })
        const streamed = yield* uploadStreamed(ana.token, room.id, randomBytes(MAX + 70_000))
        expect(streamed.status).toBe(413)
        expect(streamed.json).toMatchObject({ _tag: "PayloadTooLarge", limitBytes: MAX })
        // Exactly the limit is fine.
        const fits = fileOf(yield* upload(ana.token, room.id, randomBytes(MAX)))
        expect(fits.size).toBe(MAX)
        expect((yield* ana.api.files.list({ path: { room: room.id }, urlParams: {} })).map((f) => f.id)).toEqual([
          fits.id
        ])
        expect((yield* ana.api.files.usage({ path: { org: org.id } })).usedBytes).toBe(MAX)
      }))

    it.effect("an org's files stop at its quota; content it already holds still uploads", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* anaAndBen
        const first = randomBytes(MAX)
        fileOf(yield* upload(ana.token, room.id, first))
        fileOf(yield* upload(ana.token, room.id, randomBytes(MAX)))
        const full = yield* upload(ana.token, room.id, randomBytes(MAX))
        expect(full.status).toBe(413)
        expect(full.json).toMatchObject({ _tag: "PayloadTooLarge", limitBytes: 250_000 })
        expect(JSON.stringify(full.json)).toContain("storage is full")
        fileOf(yield* upload(ana.token, room.id, first, { name: "same-again.bin" }))
        expect((yield* ana.api.files.usage({ path: { org: org.id } })).usedBytes).toBe(2 * MAX)
        expect(yield* ana.api.files.list({ path: { room: room.id }, urlParams: {} })).toHaveLength(3)
      }))

    it.effect("files follow the room's access: outsiders, other orgs and wrong ids get 404, bad uploads 400", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* anaAndBen
        const secret = yield* ana.api.rooms.create({
          path: { org: org.id },
          payload: { name: `secret-${slug()}`, kind: "private" }
        })
        const file = fileOf(yield* upload(ana.token, secret.id, text("for ana only")))
        for (const path of [`/v1/rooms/${secret.id}/files`, `/v1/rooms/${secret.id}/files/${file.id}`]) {
          expect((yield* raw("GET", path, { token: ben.token })).status).toBe(404)
        }
        expect((yield* download(ben.token, secret.id, file.id)).status).toBe(404)
        expect((yield* upload(ben.token, secret.id, text("let me in"))).status).toBe(404)
        // The file's id under a room Ben can read is still not found.
        expect((yield* download(ben.token, room.id, file.id)).status).toBe(404)
        expect((yield* raw("DELETE", `/v1/rooms/${room.id}/files/${file.id}`, { token: ana.token })).status).toBe(404)

        const eve = yield* person("Eve")
        const eveOrg = yield* eve.api.orgs.create({ payload: { name: "Elsewhere", slug: slug() } })
        const eveRoom = yield* eve.api.rooms.create({ path: { org: eveOrg.id }, payload: { name: "hers" } })
        expect((yield* download(eve.token, eveRoom.id, file.id)).status).toBe(404)
        expect((yield* raw("GET", `/v1/orgs/${org.id}/files/usage`, { token: eve.token })).status).toBe(404)

        expect((yield* download(ana.token, room.id, randomUUID())).status).toBe(404)
        expect((yield* download(ana.token, room.id, "not-an-id")).status).toBe(400)
        expect((yield* upload(ana.token, room.id, text("x"), { field: "attachment" })).json).toMatchObject({
          _tag: "MalformedRequest",
          message: expect.stringContaining("part named file")
        })
        const json = yield* raw("POST", `/v1/rooms/${room.id}/files`, { token: ana.token, body: { file: "x" } })
        expect([json.status, json.text]).toEqual([400, expect.stringContaining("multipart/form-data")])
        const anonymous = yield* raw("GET", `/v1/rooms/${room.id}/files`)
        expect(anonymous.status).toBe(401)
        // Nothing of the refused uploads was kept.
        expect(yield* ana.api.files.list({ path: { room: room.id }, urlParams: {} })).toEqual([])
      }))

    it.effect("an avatar: set from an image, shown to people who share an org, changed, removed; not an image is 422", () =>
      Effect.gen(function*() {
        const { ana, ben, org } = yield* anaAndBen
        const eve = yield* person("Eve")
        const setAvatar = (token: string, bytes: Uint8Array, type = "image/png") =>
          Effect.flatMap(baseUrl, (url) =>
            Effect.promise(() =>
              fetch(`${url}/v1/auth/me/avatar`, {
                method: "PUT",
                headers: { authorization: `Bearer ${token}` },
                body: fileForm(bytes, { name: "me.png", type })
              }).then(answer)
            ))
        const avatarOf = (token: string, userId: string, headers: Record<string, string> = {}) =>
          Effect.flatMap(
            baseUrl,
            (url) =>
              Effect.promise(() =>
                fetch(`${url}/v1/users/${userId}/avatar`, { headers: { authorization: `Bearer ${token}`, ...headers } })
                  .then(answer)
              )
          )
        const heard = yield* watch({
          baseUrl: yield* baseUrl,
          token: ben.token,
          count: 1,
          keep: (d) => d.event.type === "user.updated"
        })

        // Text declared as an image is refused for what its bytes are; nothing is set.
        const notImage = yield* setAvatar(ana.token, text("not a picture"))
        expect(notImage.status, JSON.stringify(notImage.json)).toBe(422)
        expect(notImage.json).toMatchObject({ _tag: "InvalidInput" })
        expect((yield* avatarOf(ben.token, ana.user.id)).status).toBe(404)

        const set = yield* setAvatar(ana.token, png, "application/octet-stream")
        expect(set.status).toBe(200)
        const url = Schema.decodeUnknownSync(UserProfile)(set.json).avatar
        expect(url).toMatch(new RegExp(`^/v1/users/${ana.user.id}/avatar\\?v=[0-9a-f]{16}$`))
        const [event] = yield* Fiber.join(heard)
        expect(event?.event).toMatchObject({ type: "user.updated", user: { id: ana.user.id, avatar: url } })
        const members = yield* ben.api.orgs.members({ path: { org: org.id } })
        expect(members.find((m) => m.id === ana.user.id)?.avatar).toBe(url)
        expect(members.find((m) => m.id === ben.user.id)?.avatar).toBeNull()

        const seen = yield* avatarOf(ben.token, ana.user.id)
        expect(seen.status).toBe(200)
        expect(seen.headers.get("content-type")).toBe("image/png")
        expect(seen.bytes).toEqual(png)
        const etag = seen.headers.get("etag") ?? ""
        expect(etag).toBe(`"${sha256(png)}"`)
        expect((yield* avatarOf(ben.token, ana.user.id, { "if-none-match": etag })).status).toBe(304)
        // Someone who shares no org with Ana, and anonymous callers, get nothing.
        const hidden = yield* avatarOf(eve.token, ana.user.id)
        expect(hidden.status).toBe(404)
        expect(hidden.json).toMatchObject({ _tag: "NotFound" })
        expect((yield* raw("GET", `/v1/users/${ana.user.id}/avatar`)).status).toBe(401)

        // A new picture replaces the old; then removal leaves none.
        const gif = new Uint8Array([...new TextEncoder().encode("GIF89a"), 1, 0, 1, 0, 0, 0, 0, 59])
        const changed = yield* setAvatar(ana.token, gif, "image/gif")
        expect(changed.status).toBe(200)
        expect(Schema.decodeUnknownSync(UserProfile)(changed.json).avatar).not.toBe(url)
        expect((yield* avatarOf(ben.token, ana.user.id)).headers.get("content-type")).toBe("image/gif")
        expect((yield* raw("DELETE", "/v1/auth/me/avatar", { token: ana.token })).status).toBe(204)
        expect((yield* avatarOf(ben.token, ana.user.id)).status).toBe(404)
        const after = yield* ben.api.orgs.members({ path: { org: org.id } })
        expect(after.find((m) => m.id === ana.user.id)?.avatar).toBeNull()

        // Over the size limit (1 MiB) is 413.
        const big = new Uint8Array(1024 * 1024 + 10)
        big.set(png)
        expect((yield* setAvatar(ana.token, big)).status).toBe(413)
      }))
  })
})
