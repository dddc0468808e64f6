/**
 * Files kept in S3-compatible storage, through the public API, against a real
 * S3 service that checks signatures (OpenStack Swift with its S3 layer,
 * started once for this file): bytes come back as they went up, also in
 * parts; the same bytes are one object; the last file's deletion removes it;
 * a wrong secret is a 503 that stores nothing. Fails when Swift is missing.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as BlobStore from "@troupe/store/BlobStore"
import { ConfigProvider, Context, Effect, Either, Layer } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { download, fileOf, sha256, text, upload } from "./FileApi.js"
import { anaAndBen, TestServer } from "./Harness.js"
import * as SwiftServer from "./SwiftServer.js"

/** Larger than an upload part (8 MiB), so it goes up in parts. */
const LARGE = 9 * 1024 * 1024
const PREFIX = "troupe-test/"

class Swift extends Context.Tag("FilesS3/Swift")<Swift, SwiftServer.SwiftS3>() {}
/** The bucket of the test server in use. */
class Bucket extends Context.Tag("FilesS3/Bucket")<Bucket, string>() {}

const SwiftLive = Layer.scoped(
  Swift,
  Effect.tap(
    SwiftServer.start,
    (swift) => Effect.logInfo(`Swift with its S3 layer started in ${swift.startedInMs} ms`)
  )
)

/** A test server keeping its files in a new bucket of the running Swift, with `overrides`. */
const serverOnSwift = (overrides: Record<string, string> = {}) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const swift = yield* Swift
    const bucket = `troupe-${randomBytes(4).toString("hex")}`
    yield* swift.createBucket(bucket)
    return TestServer({
      ...swift.serverSettings(bucket),
      FILE_MAX_BYTES: String(LARGE + 1024),
      ...overrides
    }).pipe(Layer.provideMerge(Layer.succeed(Bucket, bucket)))
  }))

/** The keys in the test's bucket under `prefix`. */
const keysUnder = (prefix: string) =>
  Effect.gen(function*() {
    const swift = yield* Swift
    const keys = yield* swift.keys(yield* Bucket)
    return keys.filter((k) => k.startsWith(prefix))
  })

describe("files in S3-compatible storage", () => {
  layer(SwiftLive, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.layer(serverOnSwift({ S3_PREFIX: PREFIX }), { timeout: 120_000 })("with the right key", (it) => {
      it.effect("an upload comes back byte for byte, a large one too (sent in parts)", () =>
        Effect.gen(function*() {
          const { ana, ben, org, room } = yield* anaAndBen
          const small = text(`minutes of the ${randomUUID()} meeting\n`)
          const large = new Uint8Array(randomBytes(LARGE))
          for (const bytes of [small, large]) {
            const file = fileOf(yield* upload(ana.token, room.id, bytes, { name: "f.bin" }))
            expect(file.sha256).toBe(sha256(bytes))
            const got = yield* download(ben.token, room.id, file.id)
            expect(got.status).toBe(200)
            expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true)
          }
          expect((yield* keysUnder(`${PREFIX}${org.id}/`)).sort()).toEqual(
            [`${PREFIX}${org.id}/${sha256(small)}`, `${PREFIX}${org.id}/${sha256(large)}`].sort()
          )
        }), { timeout: 60_000 })

      it.effect("the same bytes twice are one object, counted once; deleting the last file removes it", () =>
        Effect.gen(function*() {
          const { ana, ben, org, room } = yield* anaAndBen
          const bytes = text(`the plan, version ${randomUUID()}\n`)
          const first = fileOf(yield* upload(ana.token, room.id, bytes, { name: "plan.md" }))
          const second = fileOf(yield* upload(ben.token, room.id, bytes, { name: "copy.md" }))
          expect(second.id).not.toBe(first.id)
          expect((yield* ana.api.files.usage({ path: { org: org.id } })).usedBytes).toBe(bytes.length)
          const key = `${PREFIX}${org.id}/${sha256(bytes)}`
          expect(yield* keysUnder(`${PREFIX}${org.id}/`)).toEqual([key])

          yield* ben.api.files.delete({ path: { room: room.id, file: second.id } })
          expect(yield* keysUnder(`${PREFIX}${org.id}/`)).toEqual([key])
          expect((yield* download(ana.token, room.id, first.id)).bytes).toEqual(bytes)
          yield* ana.api.files.delete({ path: { room: room.id, file: first.id } })
          expect(yield* keysUnder(`${PREFIX}${org.id}/`)).toEqual([])
          expect((yield* ana.api.files.usage({ path: { org: org.id } })).usedBytes).toBe(0)
        }))
    })

    it.layer(serverOnSwift({ S3_SECRET_ACCESS_KEY: "not-the-secret" }), { timeout: 120_000 })(
      "with a wrong secret",
      (it) => {
        it.effect("an upload answers 503 with the storage message and stores nothing", () =>
          Effect.gen(function*() {
            const { ana, org, room } = yield* anaAndBen
            const refused = yield* upload(ana.token, room.id, text("nobody will read this\n"))
            expect(refused.status).toBe(503)
            expect(refused.json).toMatchObject({ message: "the file storage is unavailable; retry shortly" })
            expect(yield* ana.api.files.list({ path: { room: room.id }, urlParams: {} })).toEqual([])
            expect((yield* ana.api.files.usage({ path: { org: org.id } })).usedBytes).toBe(0)
            expect(yield* keysUnder("")).toEqual([])
          }))
      }
    )
  })

  it.effect("S3 storage without a bucket, or with half a key, fails at start naming the setting", () =>
    Effect.gen(function*() {
      const start = (settings: Record<string, string>) =>
        Layer.build(BlobStore.layerConfig).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromJson(settings)),
          Effect.either
        )
      const noBucket = yield* start({ FILE_STORAGE: "s3" })
      expect(Either.isLeft(noBucket) && String(noBucket.left)).toContain("S3_BUCKET is required with FILE_STORAGE=s3")
      const halfKey = yield* start({ FILE_STORAGE: "s3", S3_BUCKET: "b", S3_ACCESS_KEY_ID: "id" })
      expect(Either.isLeft(halfKey) && String(halfKey.left)).toContain("S3_SECRET_ACCESS_KEY")
      const unknown = yield* start({ FILE_STORAGE: "ftp" })
      expect(Either.isLeft(unknown) && String(unknown.left)).toContain("FILE_STORAGE")
    }))
})
