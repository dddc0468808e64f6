/**
 * Reads the text of uploaded files, off the request path: plain text and
 * Markdown (and other text) directly; PDF (`unpdf`) and DOCX (`mammoth`) in a
 * worker thread with a memory limit, terminated past a time limit, since the
 * documents are untrusted. Uploads on this node are read as soon as they are
 * stored; files left pending (a node stopped mid-way) are picked up by any
 * node's periodic sweep. The text makes the file searchable and readable by
 * teammates.
 */
import { type FileInfo, isTextType, type TextStatus } from "@troupe/domain/File"
import type { FileId, OrgId } from "@troupe/domain/Ids"
import { FileRepo } from "@troupe/store/FileRepo"
import { Chunk, Config, Data, Duration, Effect, Queue, Schedule, Stream } from "effect"
import { Worker } from "node:worker_threads"

/** Text reading settings, from configuration. */
export const FileTextConfig = Config.all({
  /** How long reading one document may take (`FILE_TEXT_TIMEOUT`, default 30 seconds). */
  timeout: Config.duration("FILE_TEXT_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30))),
  /** Most characters of text kept per file (`FILE_TEXT_MAX_CHARS`, default 1,000,000); the rest is cut. */
  maxChars: Config.integer("FILE_TEXT_MAX_CHARS").pipe(Config.withDefault(1_000_000)),
  /** Heap a document reader may use, in MB (`FILE_TEXT_MAX_HEAP_MB`, default 256). */
  maxHeapMb: Config.integer("FILE_TEXT_MAX_HEAP_MB").pipe(Config.withDefault(256))
})

/** A document could not be read. */
export class ExtractError extends Data.TaggedError("ExtractError")<{ readonly message: string }> {}

const DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

/** How a type's text is read, if it has any. */
export const readerFor = (contentType: string): "text" | "pdf" | "docx" | null =>
  contentType === "application/pdf"
    ? "pdf"
    : contentType === DOCX
    ? "docx"
    : isTextType(contentType)
    ? "text"
    : null

const isMessage = (u: unknown): u is { ok: boolean; text?: unknown; error?: unknown } =>
  typeof u === "object" && u !== null && "ok" in u

/** Reads a PDF or DOCX in a worker thread of its own, ended when it is done or out of time. */
const inWorker = (kind: "pdf" | "docx", bytes: Uint8Array, maxHeapMb: number) =>
  Effect.async<string, ExtractError>((resume) => {
    let settled = false
    const worker = new Worker(new URL("./internal/extract-worker.mjs", import.meta.url), {
      workerData: { kind, bytes },
      // The reader is plain JavaScript: no loader hooks of the parent (tsx's would start a thread of their own).
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: maxHeapMb },
      stdout: true,
      stderr: true
    })
    const settle = (result: Effect.Effect<string, ExtractError>) => {
      if (settled) return
      settled = true
      void worker.terminate()
      resume(result)
    }
    worker.once("message", (m: unknown) => {
      if (isMessage(m) && m.ok && typeof m.text === "string") settle(Effect.succeed(m.text))
      else settle(Effect.fail(new ExtractError({ message: isMessage(m) ? String(m.error) : "no answer" })))
    })
    worker.once("error", (e) => settle(Effect.fail(new ExtractError({ message: e.message }))))
    worker.once("exit", (code) => settle(Effect.fail(new ExtractError({ message: `the reader stopped (${code})` }))))
    return Effect.promise(() => worker.terminate())
  })

/** Gathers a stream of bytes into one array, failing past `max` bytes. */
const gather = <E>(content: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(content), (chunks) => {
    const all = Buffer.concat(Chunk.toReadonlyArray(chunks))
    return new Uint8Array(all.buffer, all.byteOffset, all.byteLength)
  })

/** Reads uploaded files' text in the background. */
export class FileTexts extends Effect.Service<FileTexts>()("@troupe/workspace/FileTexts", {
  scoped: Effect.gen(function*() {
    const files = yield* FileRepo
    const config = yield* FileTextConfig
    const queue = yield* Queue.sliding<{ readonly orgId: OrgId; readonly fileId: FileId }>(10_000)

    const clean = (text: string) => {
      // eslint-disable-next-line no-control-regex
      const kept = text.replace(/\u0000/g, "").replace(/[\uD800-\uDFFF]/gu, "").trim()
      return kept.slice(0, config.maxChars)
    }

    const outcome = (status: TextStatus, text: string | null) => ({ status, text })

    const read = (file: FileInfo) =>
      Effect.gen(function*() {
        const reader = readerFor(file.contentType)
        if (reader === null) return outcome("none", null)
        const bytes = yield* gather(files.content(file))
        const raw = reader === "text"
          ? new TextDecoder("utf-8").decode(bytes)
          : yield* inWorker(reader, bytes, config.maxHeapMb).pipe(
            Effect.timeoutFail({
              duration: config.timeout,
              onTimeout: () =>
                new ExtractError({ message: `reading took longer than ${Duration.format(config.timeout)}` })
            })
          )
        const text = clean(raw)
        return text === "" ? outcome("none", null) : outcome("ready", text)
      }).pipe(
        Effect.catchAll((e) =>
          Effect.as(
            Effect.logWarning("a file's text could not be read", { fileId: file.id, reason: e.message }),
            outcome("failed", null)
          )
        )
      )

    const process = (job: { readonly orgId: OrgId; readonly fileId: FileId }) =>
      files.readText(job.orgId, job.fileId, read).pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("reading a file's text failed; it stays pending", cause)),
        Effect.withSpan("FileTexts.read")
      )

    // One document at a time per node: reading is CPU work, and requests come first.
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(queue), process)))

    // Files left pending anywhere (a node stopped before reading them) are picked up.
    const sweep = files.pendingTexts(100).pipe(
      Effect.flatMap((pending) => Queue.offerAll(queue, pending.map((p) => ({ orgId: p.orgId, fileId: p.id })))),
      Effect.catchAllCause((cause) => Effect.logDebug("pending file texts not read this time", cause))
    )
    yield* Effect.forkScoped(Effect.repeat(sweep, Schedule.spaced("1 minute")))

    /** Reads a new upload's text soon. */
    const enqueue = (orgId: OrgId, fileId: FileId) => Queue.offer(queue, { orgId, fileId }).pipe(Effect.asVoid)

    return { enqueue } as const
  })
}) {}
