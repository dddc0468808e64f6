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
import JSZip from "jszip"
import { anaAndBen, baseUrl, eventually, fileForm, raw, readEvents, slug, TestServerWithModel } from "./Harness.js"

/** A one-page PDF whose page shows `text` (offsets computed, so the cross-reference table is exact). */
const pdfWith = (text: string) => {
  const stream = `BT /F1 24 Tf 72 720 Td (${text}) Tj ET`
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
  ]
  let body = "%PDF-1.4\n"
  const offsets: Array<number> = []
  objects.forEach((o, i) => {
    offsets.push(body.length)
    body += `${i + 1} 0 obj\n${o}\nendobj\n`
  })
  const xref = body.length
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`
  body += offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`
  return new TextEncoder().encode(body)
}

/** A minimal Word document whose one paragraph is `text`. */
const docxWith = (text: string) =>
  Effect.promise(async () => {
    const zip = new JSZip()
    zip.file(
      "[Content_Types].xml",
      `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
        `<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
        `<Default Extension="xml" ContentType="application/xml"/>` +
        `<Override PartName="/word/document.xml" ` +
        `ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`
    )
    zip.file(
      "_rels/.rels",
      `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
        `<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" ` +
        `Target="word/document.xml"/></Relationships>`
    )
    zip.file(
      "word/document.xml",
      `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">` +
        `<w:body><w:p><w:r><w:t>${text}</w:t></w:r></w:p></w:body></w:document>`
    )
    return new Uint8Array(await zip.generateAsync({ type: "uint8array" }))
  })

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
