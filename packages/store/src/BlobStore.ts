/**
 * Where file contents live, behind one interface: a local folder (the
 * embedded default, `FILE_STORAGE_DIR`, default `<TROUPE_DATA_DIR>/files`)
 * or an S3-compatible bucket (`FILE_STORAGE=s3`).
 * Keys are `<org id>/<sha256>`, so content is stored once per org.
 *
 * An upload is first staged: streamed to a local file while it is hashed and
 * counted, cut off at the size limit. Only then is its key known, and the
 * staged file is moved into the folder or uploaded to the bucket.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException
} from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { NodeSink, NodeStream } from "@effect/platform-node"
import { Config, ConfigError, Context, Data, Effect, Layer, Option, Redacted, type Scope, Stream } from "effect"
import { createHash, randomUUID } from "node:crypto"
import { createReadStream, createWriteStream } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Readable } from "node:stream"

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

/** Stages uploads as files in `dir` (which must exist), each removed when its scope closes. */
const stageIn = (dir: string): BlobStoreShape["stage"] => (content, maxBytes) =>
  Effect.gen(function*() {
    const path = Path.join(dir, randomUUID())
    yield* Effect.addFinalizer(() => Effect.promise(() => Fs.rm(path, { force: true })))
    return yield* writeStaged(content, path, maxBytes).pipe(Effect.scoped)
  })

/** Creates `dir` (and its parents) when missing. */
const ensureDir = (dir: string) =>
  Effect.tryPromise({
    try: () => Fs.mkdir(dir, { recursive: true }),
    catch: failed(`cannot create the folder ${dir}`)
  })

/** Contents in a local folder, one file per key; uploads are staged in its `.staging` subfolder. */
export const local = (dir: string): Effect.Effect<BlobStoreShape, BlobStoreError> =>
  Effect.gen(function*() {
    const root = Path.resolve(dir)
    const staging = Path.join(root, ".staging")
    yield* ensureDir(staging)
    const pathOf = (key: string) => {
      const [org = "", sha = ""] = key.split("/")
      return Path.join(root, org, sha.slice(0, 2), sha)
    }
    const store: BlobStoreShape = {
      stage: stageIn(staging),
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

/** Where and how to reach an S3-compatible bucket. */
export interface S3Options {
  readonly bucket: string
  readonly region: string
  /** The service's URL; none for AWS itself. */
  readonly endpoint: Option.Option<string>
  /** Access key; none for the SDK's default chain (`AWS_*` variables, an instance or pod role). */
  readonly credentials: Option.Option<{ readonly accessKeyId: string; readonly secretAccessKey: Redacted.Redacted }>
  /** Buckets in the path (`<endpoint>/<bucket>/<key>`) rather than in the host name. */
  readonly forcePathStyle: boolean
  /** Put before every key, as is (e.g. `troupe/`). */
  readonly prefix: string
  /** Local folder uploads are staged in before they go to the bucket. */
  readonly stagingDir: string
}

/** Uploads of this size and more go up in parts of this size, up to `UPLOAD_QUEUE` at once. */
const PART_BYTES = 8 * 1024 * 1024
const UPLOAD_QUEUE = 4

/**
 * Contents in an S3-compatible bucket, one object per key. An upload is
 * staged on local disk first (so its key, the hash, is known), then sent up,
 * in parts when it is large; the SDK retries what can be retried. The bucket
 * must exist; the client is closed with the scope.
 */
export const s3 = (options: S3Options): Effect.Effect<BlobStoreShape, BlobStoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const staging = Path.resolve(options.stagingDir)
    yield* ensureDir(staging)
    const client = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new S3Client({
          region: options.region,
          forcePathStyle: options.forcePathStyle,
          ...Option.match(options.endpoint, { onNone: () => ({}), onSome: (endpoint) => ({ endpoint }) }),
          ...Option.match(options.credentials, {
            onNone: () => ({}),
            onSome: (c) => ({
              credentials: { accessKeyId: c.accessKeyId, secretAccessKey: Redacted.value(c.secretAccessKey) }
            })
          }),
          // Checksums only where S3 requires them: S3-compatible services vary in their support of the newer ones.
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
          requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 }
        })
      ),
      (client) => Effect.sync(() => client.destroy())
    )
    const Bucket = options.bucket
    const objectKey = (key: string) => `${options.prefix}${key}`
    /** Runs `send`: a 404 answers `missing()` when given, any other failure is a `BlobStoreError` saying `message`. */
    const call = <A>(message: string, send: (abortSignal: AbortSignal) => Promise<A>, missing?: () => A) =>
      Effect.tryPromise({
        try: (abortSignal) =>
          send(abortSignal).catch((e: unknown) => {
            if (missing !== undefined && e instanceof S3ServiceException && e.$metadata.httpStatusCode === 404) {
              return missing()
            }
            throw e
          }),
        catch: failed(message)
      })
    const store: BlobStoreShape = {
      stage: stageIn(staging),
      has: (key) =>
        call(
          "cannot read the file storage",
          (abortSignal) =>
            client.send(new HeadObjectCommand({ Bucket, Key: objectKey(key) }), { abortSignal }).then(() => true),
          () => false
        ),
      put: (key, staged) =>
        call(
          "cannot write to the file storage",
          async (signal) => {
            const abortController = new AbortController()
            signal.addEventListener("abort", () => abortController.abort())
            const body = createReadStream(staged.path)
            const upload = new Upload({
              client,
              params: { Bucket, Key: objectKey(key), Body: body },
              partSize: PART_BYTES,
              queueSize: UPLOAD_QUEUE,
              abortController
            })
            try {
              await upload.done()
            } finally {
              body.destroy()
            }
          }
        ),
      read: (key) =>
        Stream.unwrap(
          call(
            "cannot read the file from storage",
            (abortSignal) => client.send(new GetObjectCommand({ Bucket, Key: objectKey(key) }), { abortSignal })
          ).pipe(Effect.flatMap(({ Body }) =>
            Body instanceof Readable
              ? Effect.succeed(NodeStream.fromReadable(() => Body, failed("cannot read the file from storage")))
              : Effect.fail(new BlobStoreError({ message: "the file storage answered without a body" }))
          ))
        ),
      remove: (key) =>
        call(
          "cannot remove the file from storage",
          (abortSignal) =>
            client.send(new DeleteObjectCommand({ Bucket, Key: objectKey(key) }), { abortSignal }).then(() =>
              undefined
            ),
          () => undefined
        )
    }
    return store
  })

/** The local-folder settings. */
export const BlobStoreConfig = Config.all({
  /** Folder for file contents (`FILE_STORAGE_DIR`, default `<TROUPE_DATA_DIR>/files`). */
  dir: Config.option(Config.string("FILE_STORAGE_DIR")),
  dataDir: Config.string("TROUPE_DATA_DIR").pipe(Config.withDefault(".troupe"))
})

/** `name` is required when `FILE_STORAGE=s3`. */
const requiredForS3 = (name: string, what: string) => (value: Option.Option<string>) =>
  Option.match(value, {
    onNone: () => Effect.fail(ConfigError.MissingData([name], `${name} is required with FILE_STORAGE=s3: ${what}`)),
    onSome: Effect.succeed
  })

/** The S3 settings, read when `FILE_STORAGE=s3`. */
export const S3Config = Effect.gen(function*() {
  const raw = yield* Config.all({
    /** The bucket (`S3_BUCKET`, required). */
    bucket: Config.option(Config.string("S3_BUCKET")),
    /** The bucket's region (`S3_REGION`, default `us-east-1`). */
    region: Config.string("S3_REGION").pipe(Config.withDefault("us-east-1")),
    /** The service's URL (`S3_ENDPOINT`, unset for AWS). */
    endpoint: Config.option(Config.string("S3_ENDPOINT")),
    /** Access key id and secret (`S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`; unset for the SDK's default chain). */
    accessKeyId: Config.option(Config.string("S3_ACCESS_KEY_ID")),
    secretAccessKey: Config.option(Config.redacted("S3_SECRET_ACCESS_KEY")),
    /** Path-style bucket addressing (`S3_FORCE_PATH_STYLE`, default true when an endpoint is set). */
    forcePathStyle: Config.option(Config.boolean("S3_FORCE_PATH_STYLE")),
    /** Key prefix (`S3_PREFIX`, default none). */
    prefix: Config.string("S3_PREFIX").pipe(Config.withDefault("")),
    /** Staging folder (`FILE_STAGING_DIR`, default `<system temp folder>/troupe-uploads`). */
    stagingDir: Config.string("FILE_STAGING_DIR").pipe(Config.withDefault(Path.join(Os.tmpdir(), "troupe-uploads")))
  })
  const bucket = yield* requiredForS3("S3_BUCKET", "the bucket files are kept in")(raw.bucket)
  const credentials = yield* Option.match(Option.all([raw.accessKeyId, raw.secretAccessKey]), {
    onSome: ([accessKeyId, secretAccessKey]) => Effect.succeed(Option.some({ accessKeyId, secretAccessKey })),
    onNone: () =>
      Option.isNone(raw.accessKeyId) && Option.isNone(raw.secretAccessKey)
        ? Effect.succeed(Option.none())
        : Effect.fail(ConfigError.MissingData(
          [Option.isNone(raw.accessKeyId) ? "S3_ACCESS_KEY_ID" : "S3_SECRET_ACCESS_KEY"],
          "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together: set both, or neither for the SDK's default credentials"
        ))
  })
  return {
    bucket,
    region: raw.region,
    endpoint: raw.endpoint,
    credentials,
    forcePathStyle: Option.getOrElse(raw.forcePathStyle, () => Option.isSome(raw.endpoint)),
    prefix: raw.prefix,
    stagingDir: raw.stagingDir
  } satisfies S3Options
})

/** The store the configuration names (`FILE_STORAGE`: `local`, the default, or `s3`). */
export const layerConfig = Layer.scoped(
  BlobStore,
  Effect.gen(function*() {
    const kind = yield* Config.literal("local", "s3")("FILE_STORAGE").pipe(Config.withDefault("local"))
    if (kind === "s3") return yield* s3(yield* S3Config)
    const config = yield* BlobStoreConfig
    const dir = Option.getOrElse(config.dir, () => Path.join(config.dataDir, "files"))
    return yield* local(dir)
  })
)
