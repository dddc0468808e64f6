/**
 * Where file contents live, behind one interface: a local folder (the
 * embedded default, `FILE_STORAGE_DIR`, default `<TROUPE_DATA_DIR>/files`).
 * Keys are `<org id>/<sha256>`, so content is stored once per org.
 *
 * An upload is first staged: streamed to a local file while it is hashed and
 * counted, cut off at the size limit. Only then is its key known, and the
 * staged file is moved (or copied) into the store.
 */
import { NodeSink, NodeStream } from "@effect/platform-node"
import { Config, Context, Data, Effect, Layer, Option, type Scope, Stream } from "effect"
import { createHash, randomUUID } from "node:crypto"
import { createReadStream, createWriteStream } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

/** The store could not be read or written. */
export class BlobStoreError extends Data.TaggedError("BlobStoreError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** The upload was larger than allowed; nothing was kept. */
export class BlobTooLarge extends Data.TaggedError("BlobTooLarge")<{ readonly limitBytes: number }> {}

/** An upload staged on local disk, hashed and counted. Removed when its scope closes. */
export interface Staged {
  readonly path: string
  readonly sha256: string
  readonly size: number
  /** The first bytes (up to 4 KiB), to recognise the type from. */
  readonly head: Uint8Array
}

/** File contents by key. */
export interface BlobStoreShape {
  /** Streams `content` to a staging file, hashing it; fails with `BlobTooLarge` past `maxBytes`. */
  readonly stage: <E>(
    content: Stream.Stream<Uint8Array, E>,
    maxBytes: number
  ) => Effect.Effect<Staged, E | BlobTooLarge | BlobStoreError, Scope.Scope>
  readonly has: (key: string) => Effect.Effect<boolean, BlobStoreError>
  /** Stores a staged upload under `key` (replacing what is there: keys name their content); uses up `staged`. */
  readonly put: (key: string, staged: Staged) => Effect.Effect<void, BlobStoreError>
  readonly read: (key: string) => Stream.Stream<Uint8Array, BlobStoreError>
  /** Removes `key`; removing a missing key is not an error. */
  readonly remove: (key: string) => Effect.Effect<void, BlobStoreError>
}

/** The file store. */
export class BlobStore extends Context.Tag("@troupe/store/BlobStore")<BlobStore, BlobStoreShape>() {}

/** The key of an org's copy of some content. */
export const blobKey = (orgId: string, sha256: string) => `${orgId}/${sha256}`

const HEAD_BYTES = 4096

const failed = (message: string) => (cause: unknown) => new BlobStoreError({ message, cause })

/**
 * Writes `content` to `path`, hashing and counting it, and stops with
 * `BlobTooLarge` as soon as more than `maxBytes` arrived.
 */
const writeStaged = <E>(content: Stream.Stream<Uint8Array, E>, path: string, maxBytes: number) =>
  Effect.gen(function*() {
    const hash = createHash("sha256")
    let size = 0
    const head: Array<Uint8Array> = []
    let headSize = 0
    const file = yield* Effect.acquireRelease(
      Effect.sync(() => createWriteStream(path, { flags: "wx" })),
      // Done once the file is closed, so the bytes are all on disk before anyone moves or reads it.
      (stream) =>
        Effect.async<void>((resume) => {
          if (stream.closed) return resume(Effect.void)
          stream.once("close", () => resume(Effect.void))
          if (!stream.writableEnded) stream.destroy()
        })
    )
    const counted = content.pipe(
      Stream.mapEffect((chunk) => {
        size += chunk.byteLength
        if (size > maxBytes) return Effect.fail(new BlobTooLarge({ limitBytes: maxBytes }))
        hash.update(chunk)
        if (headSize < HEAD_BYTES) {
          head.push(chunk.subarray(0, HEAD_BYTES - headSize))
          headSize += Math.min(chunk.byteLength, HEAD_BYTES - headSize)
        }
        return Effect.succeed(chunk)
      })
    )
    yield* Stream.run(counted, NodeSink.fromWritable(() => file, failed("cannot write the upload to disk")))
    const joined = Buffer.concat(head)
    return { path, sha256: hash.digest("hex"), size, head: new Uint8Array(joined) } satisfies Staged
  })

/** Contents in a local folder, one file per key; uploads are staged in its `.staging` subfolder. */
export const local = (dir: string): Effect.Effect<BlobStoreShape, BlobStoreError> =>
  Effect.gen(function*() {
    const root = Path.resolve(dir)
    const staging = Path.join(root, ".staging")
    yield* Effect.tryPromise({
      try: () => Fs.mkdir(staging, { recursive: true }),
      catch: failed(`cannot create the file storage folder ${root}`)
    })
    const pathOf = (key: string) => {
      const [org = "", sha = ""] = key.split("/")
      return Path.join(root, org, sha.slice(0, 2), sha)
    }
    const store: BlobStoreShape = {
      stage: (content, maxBytes) =>
        Effect.gen(function*() {
          const path = Path.join(staging, randomUUID())
          yield* Effect.addFinalizer(() => Effect.promise(() => Fs.rm(path, { force: true })))
          return yield* writeStaged(content, path, maxBytes).pipe(Effect.scoped)
        }),
      has: (key) =>
        Effect.tryPromise({
          try: () =>
            Fs.stat(pathOf(key)).then(() => true, (e: NodeJS.ErrnoException) => {
              if (e.code === "ENOENT") return false
              throw e
            }),
          catch: failed("cannot read the file storage")
        }),
      put: (key, staged) =>
        Effect.tryPromise({
          try: async () => {
            const target = pathOf(key)
            await Fs.mkdir(Path.dirname(target), { recursive: true })
            // The staging folder is on the same file system: a rename moves the whole file into place at once.
            await Fs.rename(staged.path, target)
          },
          catch: failed("cannot write to the file storage")
        }),
      read: (key) =>
        NodeStream.fromReadable(
          () => createReadStream(pathOf(key)),
          failed("cannot read the file from storage")
        ),
      remove: (key) =>
        Effect.tryPromise({
          try: () => Fs.rm(pathOf(key), { force: true }),
          catch: failed("cannot remove the file from storage")
        })
    }
    return store
  })

/** The file storage settings. */
export const BlobStoreConfig = Config.all({
  /** Folder for file contents (`FILE_STORAGE_DIR`, default `<TROUPE_DATA_DIR>/files`). */
  dir: Config.option(Config.string("FILE_STORAGE_DIR")),
  dataDir: Config.string("TROUPE_DATA_DIR").pipe(Config.withDefault(".troupe"))
})

/** The store the configuration names. */
export const layerConfig = Layer.effect(
  BlobStore,
  Effect.gen(function*() {
    const config = yield* BlobStoreConfig
    const dir = Option.getOrElse(config.dir, () => Path.join(config.dataDir, "files"))
    return yield* local(dir)
  })
)
