/**
 * The files phase: upload and download throughput through the files API next
 * to node:fs writing and reading the same bytes in the same folder, and how
 * long a document's text takes to be read (plain text, PDF, Word), per MiB.
 */
import { docxWith, pdfWith } from "@troupe/server/testing/Documents"
import { Console, Effect } from "effect"
import { execFileSync } from "node:child_process"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { performance } from "node:perf_hooks"
import type { Child } from "./Child.js"
import { orgOwner } from "./Fixtures.js"
import type { Command, Document, Results, TextRead, TransferKind, TransferResult } from "./Protocol.js"
import type { Run } from "./Report.js"
import { quiesce, withServerCpu } from "./ServerCpu.js"
import { random, words } from "./Words.js"

/** One shape of transfer: `files` random files of `mib` MiB, `concurrency` at a time. */
export interface TransferCase {
  readonly mib: number
  readonly files: number
  readonly concurrency: number
}

/** A transfer case measured every way. */
export interface TransferRun extends TransferCase {
  /** node:fs writing each file into the storage folder, no fsync: the upload baseline. */
  readonly write: TransferResult
  /** The same, each file fsync-ed before it is closed. */
  readonly writeSynced: TransferResult
  /** node:fs reading back what `write` wrote: the download baseline. */
  readonly read: TransferResult
  readonly upload: Run<TransferResult>
  readonly download: Run<TransferResult>
}

/** The document formats whose text is read. */
export type Format = "text" | "pdf" | "docx"

/** Reading the text of documents of one format and length. */
export interface TextRun {
  readonly format: Format
  readonly pages: number
  /** The text's mean size in bytes (ASCII: one byte a character), the same in every format. */
  readonly textBytes: number
  readonly reads: ReadonlyArray<TextRead>
}

/** The files phase's figures. */
export interface FilesRun {
  /** The storage folder's file system, as `findmnt` names it. */
  readonly storage: string
  readonly transfers: ReadonlyArray<TransferRun>
  readonly texts: ReadonlyArray<TextRun>
  readonly seconds: number
}

/** What the files phase does. */
export interface FilesSettings {
  readonly transfers: ReadonlyArray<TransferCase>
  /** Lengths of the documents, in pages, and how many of each (each with other text). */
  readonly texts: { readonly pages: ReadonlyArray<number>; readonly repeats: number }
}

const MIB = 1024 * 1024

const LINES_PER_PAGE = 50
const WORDS_PER_LINE = 10

/** `pages` pages of deterministic text, a form feed between pages; another `seed`, other words. */
const pagesOfText = (pages: number, seed: number) => {
  const next = random(seed)
  const line = () => Array.from({ length: WORDS_PER_LINE }, () => words[Math.floor(next() * words.length)]).join(" ")
  const page = () => Array.from({ length: LINES_PER_PAGE }, line).join("\n")
  return Array.from({ length: pages }, page).join("\f")
}

const DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

/** The file of a text in a format, and the type an upload declares for it. */
const documentOf = (format: Format, text: string) =>
  format === "pdf"
    ? Effect.succeed({ bytes: pdfWith(text), extension: "pdf", contentType: "application/pdf" })
    : format === "docx"
    ? Effect.map(docxWith(text), (bytes) => ({ bytes, extension: "docx", contentType: DOCX }))
    : Effect.succeed({
      bytes: new TextEncoder().encode(text.replaceAll("\f", "\n\n")),
      extension: "txt",
      contentType: "text/plain"
    })

/** The file system `dir` is on (type and device), or `unknown`. */
const fileSystemOf = (dir: string) => {
  try {
    return execFileSync("findmnt", ["-no", "FSTYPE,SOURCE", "-T", dir], { encoding: "utf8" }).trim()
      .replace(/\s+/, " on ")
  } catch {
    return "unknown"
  }
}

/**
 * Flushes every dirty page to disk (`sync`) and waits until the server is
 * idle, so that no step pays for the writes of the one before.
 */
const settleDisk = Effect.zipRight(Effect.sync(() => execFileSync("sync")), quiesce(30_000))

/**
 * Measures, for each transfer case, node:fs writes (unsynced, the baseline,
 * then fsync-ed) and reads into and from the storage folder `dir`, and
 * uploads and downloads of the same bytes through the API at `url`; then
 * uploads documents one at a time and times each until its `file.updated`.
 * The load generator `load` holds the bytes and makes every transfer.
 */
export const filesPhase = (
  ctx: { readonly url: string; readonly load: Child<Command, Results>; readonly dir: string },
  settings: FilesSettings
) =>
  Effect.gen(function*() {
    const began = performance.now()
    const { dir, load, url } = ctx
    const { org, owner } = yield* orgOwner(url, "Files")
    const room = yield* owner.api.rooms.create({ path: { org: org.id }, payload: { name: "files", kind: "private" } })
    const api = { baseUrl: url, token: owner.token, roomId: room.id }
    const move = (how: TransferKind, concurrency: number) => load.call({ type: "transfer", how, concurrency })
    const scratch = (name: string) => Path.join(dir, `.bench-${name}`)
    const removeScratch = Effect.sync(() => {
      for (const name of ["raw", "synced", "documents"]) rmSync(scratch(name), { recursive: true, force: true })
    })

    yield* Console.log("files: warm-up transfers…")
    yield* load.call({ type: "makeFiles", count: 4, bytes: MIB })
    for (
      const how of [{ kind: "write", dir: scratch("raw"), fsync: false }, { kind: "read", dir: scratch("raw") }, {
        kind: "upload",
        ...api
      }, { kind: "download", ...api }] satisfies ReadonlyArray<TransferKind>
    ) {
      yield* move(how, 2)
    }
    yield* removeScratch

    const transfers: Array<TransferRun> = []
    for (const c of settings.transfers) {
      yield* Console.log(`files: ${c.files} files of ${c.mib} MiB, ${c.concurrency} at a time…`)
      yield* load.call({ type: "makeFiles", count: c.files, bytes: c.mib * MIB })
      yield* settleDisk
      const write = yield* move({ kind: "write", dir: scratch("raw"), fsync: false }, c.concurrency)
      yield* settleDisk
      const read = yield* move({ kind: "read", dir: scratch("raw") }, c.concurrency)
      yield* settleDisk
      const writeSynced = yield* move({ kind: "write", dir: scratch("synced"), fsync: true }, c.concurrency)
      yield* settleDisk
      const [upload, uploadCpu] = yield* withServerCpu(move({ kind: "upload", ...api }, c.concurrency))
      yield* settleDisk
      const [download, downloadCpu] = yield* withServerCpu(move({ kind: "download", ...api }, c.concurrency))
      yield* removeScratch
      transfers.push({
        ...c,
        write,
        writeSynced,
        read,
        upload: { result: upload, serverCpuMs: uploadCpu },
        download: { result: download, serverCpuMs: downloadCpu }
      })
    }

    yield* load.call({ type: "open", baseUrl: url, tokens: [owner.token], concurrency: 1, timeoutMs: 30_000 })
    yield* load.call({ type: "settle", quietMs: 300, timeoutMs: 30_000 })
    const texts: Array<TextRun> = []
    const formats: ReadonlyArray<Format> = ["text", "pdf", "docx"]
    for (const pages of settings.texts.pages) {
      // The same texts in every format: seeds by length and repeat.
      const sources = Array.from({ length: settings.texts.repeats }, (_, r) => pagesOfText(pages, pages * 1000 + r))
      for (const format of formats) {
        yield* Console.log(`files: reading the text of ${sources.length} × ${pages}-page ${format} documents…`)
        const documents = yield* Effect.forEach(sources, (text, r) =>
          Effect.flatMap(documentOf(format, text), (doc) =>
            Effect.sync((): Document => {
              const path = Path.join(scratch("documents"), `${pages}-${r}.${doc.extension}`)
              mkdirSync(scratch("documents"), { recursive: true })
              writeFileSync(path, doc.bytes)
              return { path, name: `${pages}-pages-${r}.${doc.extension}`, contentType: doc.contentType }
            })))
        yield* settleDisk
        const reads = yield* load.call({ type: "readTexts", ...api, documents, timeoutMs: 120_000 })
        yield* removeScratch
        const textBytes = sources.reduce((n, text) =>
          n + text.length, 0) / Math.max(1, sources.length)
        texts.push({ format, pages, textBytes, reads })
      }
    }
    yield* load.call({ type: "close" })
    return {
      storage: fileSystemOf(dir),
      transfers,
      texts,
      seconds: (performance.now() - began) / 1000
    } satisfies FilesRun
  })
