/**
 * The text of uploaded files: read off the request path (plain text and
 * Markdown directly, PDF and DOCX in a worker), announced as `file.updated`,
 * searchable within the rooms a person can read, and readable by a teammate
 * through `read_file`, which cites the file. Unreadable documents are marked
 * failed, never retried forever, and harm nothing else.
 */
import { describe, expect, layer } from "@effect/vitest"
import type { Delivered } from "@troupe/domain/Event"
import { FileInfo } from "@troupe/domain/File"
import { Effect, Option, Schema } from "effect"
import { docxWith, pdfWith } from "../src/testing/Documents.js"
import { anaAndBen, baseUrl, eventually, fileForm, raw, readEvents, slug, TestServerWithModel } from "./Harness.js"

const uploaded = (token: string, roomId: string, bytes: Uint8Array, name: string, type: string) =>
  Effect.map(raw("POST", `/v1/rooms/${roomId}/files`, { token, body: fileForm(bytes, { name, type }) }), (r) => {
    expect(r.status, r.text).toBe(201)
    return Schema.decodeUnknownSync(FileInfo)(r.json)
  })

/** The `file.updated` events for `ids` on `token`'s stream: each file's outcome, by file id. */
const outcomes = (token: string, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const events = yield* readEvents({
      baseUrl: yield* baseUrl,
      token,
      lastEventId: "0",
      count: ids.length,
      keep: (d: Delivered) => d.event.type === "file.updated" && ids.includes(d.event.file.id),
      timeout: "60 seconds"
    })
    return Object.fromEntries(
      events.flatMap((d) => d.event.type === "file.updated" ? [[d.event.file.id, d.event.file.textStatus]] : [])
    )
  })

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52])

describe("file texts", () => {
  layer(TestServerWithModel(), { excludeTestServices: true, timeout: 180_000 })((it) => {
    it.effect("text, Markdown, PDF and Word files are read, announced and found by search; pictures have no text", () =>
      Effect.gen(function*() {
        const { ana, ben, org } = yield* anaAndBen
        const secret = yield* ana.api.rooms.create({
          path: { org: org.id },
          payload: { name: `plans-${slug()}`, kind: "private" }
        })
        const notes = yield* uploaded(
          ana.token,
          secret.id,
          new TextEncoder().encode("# Plan\nship the zeppelin"),
          "plan.md",
          "text/markdown"
        )
        const pdf = yield* uploaded(
          ana.token,
          secret.id,
          pdfWith("Quarterly zeppelin budget"),
          "budget.pdf",
          "application/pdf"
        )
        const docx = yield* uploaded(
          ana.token,
          secret.id,
          yield* docxWith("Zeppelin hangar lease"),
          "lease.docx",
          "application/octet-stream"
        )
        const picture = yield* uploaded(ana.token, secret.id, png, "pixel.png", "image/png")
        expect([notes, pdf, docx, picture].map((f) => f.textStatus)).toEqual([
          "pending",
          "pending",
          "pending",
          "pending"
        ])
        expect(docx.contentType).toBe("application/vnd.openxmlformats-officedocument.wordprocessingml.document")

        const done = yield* outcomes(ana.token, [notes.id, pdf.id, docx.id, picture.id])
        expect(done).toEqual({ [notes.id]: "ready", [pdf.id]: "ready", [docx.id]: "ready", [picture.id]: "none" })

        const hits = yield* ana.api.files.search({ path: { org: org.id }, urlParams: { q: "zeppelin" } })
        expect(hits.map((h) => h.file.name).sort()).toEqual(["budget.pdf", "lease.docx", "plan.md"])
        expect(hits.find((h) => h.file.id === pdf.id)?.snippet).toContain("<<zeppelin>>")
        // While the last word is still being typed, and by name.
        const typing = yield* ana.api.files.search({ path: { org: org.id }, urlParams: { q: "hangar lea" } })
        expect(typing.map((h) => h.file.name)).toEqual(["lease.docx"])
        const byName = yield* ana.api.files.search({ path: { org: org.id }, urlParams: { q: "budget" } })
        expect(byName.map((h) => h.file.name)).toEqual(["budget.pdf"])
        // Ben is not in the private room: none of it is found for him.
        expect(yield* ben.api.files.search({ path: { org: org.id }, urlParams: { q: "zeppelin" } })).toEqual([])
      }))

    it.effect("an unreadable PDF is marked failed and the next upload is still read", () =>
      Effect.gen(function*() {
        const { ana, room } = yield* anaAndBen
        const broken = yield* uploaded(
          ana.token,
          room.id,
          new TextEncoder().encode("%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\n%%EOF garbage"),
          "broken.pdf",
          "application/pdf"
        )
        expect(broken.contentType).toBe("application/pdf")
        const fine = yield* uploaded(
          ana.token,
          room.id,
          new TextEncoder().encode("still here"),
          "fine.txt",
          "text/plain"
        )
        const done = yield* outcomes(ana.token, [broken.id, fine.id])
        expect(done[fine.id]).toBe("ready")
        expect(["failed", "none"]).toContain(done[broken.id])
      }))

    it.effect("a teammate reads an attached file with read_file and cites it", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* anaAndBen
        const teammate = yield* ana.api.teammates.hire({
          path: { org: org.id },
          payload: { template: "researcher", handle: "rhea" }
        })
        yield* ana.api.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: teammate.id } })
        const file = yield* uploaded(
          ana.token,
          room.id,
          new TextEncoder().encode("The launch moves to Friday."),
          "memo.txt",
          "text/plain"
        )
        yield* outcomes(ana.token, [file.id])
        yield* ana.api.messages.post({
          path: { room: room.id },
          payload: { text: `@rhea [[tool:read_file:{"file":"memo.txt"}]]`, attachments: [file.id] }
        })
        const reply = yield* eventually(
          Effect.map(
            ana.api.messages.list({ path: { room: room.id }, urlParams: {} }),
            (page) => Option.fromNullable(page.messages.find((m) => m.authorKind === "teammate"))
          ),
          "30 seconds"
        )
        expect(reply.text).toBe(`done: [file: memo.txt (${file.id})]\nThe launch moves to Friday.`)
        const [run] = yield* ana.api.teammates.runs({ path: { org: org.id, teammate: teammate.id }, urlParams: {} })
        expect(run?.steps.map((s) => [s.kind, s.name])).toContainEqual(["tool", "read_file"])
      }))
  })
})
