/**
 * Files people attach on the platforms, brought into Troupe: each is fetched
 * from its platform (Slack's `url_private_download` with the bot token, only
 * from the origins in `SLACK_FILES_URL`; Telegram's `getFile`, then its file
 * URL under `TELEGRAM_API_URL`), staged and stored in the room's library as
 * an upload would be, and attached to the room message its delivery became.
 * This happens after the delivery was acknowledged and its text stored: a
 * file over a limit (the platform's, `FILE_MAX_BYTES`, the org's quota) or
 * one that cannot be fetched becomes a line of the message naming it, and
 * never costs the message its text.
 */
import { FetchHttpClient, HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { MAX_ATTACHMENTS } from "@troupe/domain/File"
import type { FileId, MessageId } from "@troupe/domain/Ids"
import type { RoomInfo } from "@troupe/domain/Room"
import { BlobStore } from "@troupe/store/BlobStore"
import { type Author, MessageRepo } from "@troupe/store/MessageRepo"
import { Files } from "@troupe/workspace/Files"
import { Config, ConfigError, Data, Duration, Effect, Either, Layer, Option, Schedule, Schema } from "effect"
import { TelegramApiUrl } from "./TelegramSender.js"

/** The most a Telegram bot may download through `getFile` (the Bot API's limit): 20 MB. */
export const TELEGRAM_MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024

/** How long fetching one file may take, its `getFile` call included. */
const FILE_TIMEOUT = Duration.minutes(2)

/** Files of one message fetched at once. */
const CONCURRENCY = 2

/**
 * The origins Slack's file downloads may come from (`SLACK_FILES_URL`, a
 * comma-separated list of URLs, default `https://files.slack.com`): a file
 * whose `url_private_download` is elsewhere is not fetched, so the bot token
 * goes nowhere else.
 */
export const SlackFilesOrigins = Config.string("SLACK_FILES_URL").pipe(
  Config.withDefault("https://files.slack.com"),
  Config.mapOrFail((value) => {
    const origins = value.split(",").map((part) => part.trim()).filter((part) => part !== "").map(originOf)
    return origins.length > 0 && origins.every(Option.isSome)
      ? Either.right(new Set(origins.map((o) => Option.getOrElse(o, () => ""))))
      : Either.left(
        ConfigError.InvalidData(["SLACK_FILES_URL"], "SLACK_FILES_URL must be a comma-separated list of http(s) URLs")
      )
  })
)

/** The origin of an http(s) URL. */
const originOf = (url: string) => {
  try {
    const parsed = new URL(url)
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? Option.some(parsed.origin) : Option.none()
  } catch {
    return Option.none()
  }
}

/** A file a platform message carries, before it is fetched. */
export interface PlatformFile {
  readonly name: string
  /** The type the platform declares. */
  readonly mimetype: string
  /** The size the platform declares, if it does. */
  readonly size: number | null
  /** Where its bytes are: Slack's download URL, or Telegram's `file_id` to ask `getFile` about. */
  readonly source:
    | { readonly platform: "slack"; readonly url: string | null }
    | { readonly platform: "telegram"; readonly fileId: string }
}

/** The message the files go to, and who they are from. */
export interface MediaTarget {
  readonly room: RoomInfo
  readonly author: Author
  readonly messageId: MessageId
  /** The bot token the platform's downloads are made with. */
  readonly token: string
}

/** Why a file was not brought over, as the message tells it. */
class NotBrought extends Data.TaggedError("NotBrought")<{ readonly reason: string }> {}

/** A failure that may pass (a 5xx, a network error): fetched again, a few times. */
class Flaky extends Data.TaggedError("Flaky")<{ readonly reason: string }> {}

/** A size for people: `25 MiB`, `20 MB`, or bytes. */
const sizeText = (bytes: number) =>
  bytes === TELEGRAM_MAX_DOWNLOAD_BYTES
    ? "20 MB"
    : bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : `${bytes} bytes`

/** The line a message gets for a file that was not brought over. */
export const noteFor = (name: string, reason: string) => `[file "${name}" was not brought over: ${reason}]`

const GetFileAnswer = Schema.Struct({
  ok: Schema.Boolean,
  result: Schema.optional(Schema.Struct({
    file_path: Schema.optional(Schema.String),
    file_size: Schema.optional(Schema.Number)
  })),
  description: Schema.optional(Schema.String)
})

/** Fetches platforms' files into rooms. */
export class Media extends Effect.Service<Media>()("@troupe/gateway/Media", {
  effect: Effect.gen(function*() {
    const files = yield* Files
    const messages = yield* MessageRepo
    const store = yield* BlobStore
    const telegramRoot = yield* TelegramApiUrl
    const slackOrigins = yield* SlackFilesOrigins
    const client = yield* HttpClient.HttpClient

    /** The answer to a GET of `url`. */
    const execute = (url: string, headers: Record<string, string>) =>
      client.execute(HttpClientRequest.get(url).pipe(HttpClientRequest.setHeaders(headers))).pipe(
        Effect.catchTags({
          RequestError: () => Effect.fail(new Flaky({ reason: "the platform could not be reached" })),
          ResponseError: () => Effect.fail(new Flaky({ reason: "the platform's answer could not be read" }))
        })
      )

    /** `url` as a response with status 200, or why not. */
    const get = (url: string, headers: Record<string, string>) =>
      execute(url, headers).pipe(
        Effect.flatMap((response): Effect.Effect<HttpClientResponse.HttpClientResponse, Flaky | NotBrought> =>
          response.status === 200
            ? Effect.succeed(response)
            : response.status >= 500 || response.status === 429 || response.status === 408
            ? Effect.fail(new Flaky({ reason: `the platform answered ${response.status}` }))
            : Effect.fail(new NotBrought({ reason: `the platform refused the download (${response.status})` }))
        )
      )

    /** Where the file's bytes are, and with what headers to ask for them. */
    const locate = (file: PlatformFile, token: string, limit: number) =>
      Effect.gen(function*() {
        const source = file.source
        if (source.platform === "slack") {
          if (source.url === null) return yield* new NotBrought({ reason: "Slack offers no download of it" })
          const origin = originOf(source.url)
          if (Option.isNone(origin) || !slackOrigins.has(origin.value)) {
            return yield* new NotBrought({ reason: "its download is not on an allowed Slack file host" })
          }
          return { url: source.url, headers: { authorization: `Bearer ${token}` } }
        }
        const url = `${telegramRoot}/bot${token}/getFile?file_id=${encodeURIComponent(source.fileId)}`
        const response = yield* execute(url, {})
        const json = yield* Effect.orElseSucceed(response.json, (): unknown => null)
        const answer = Schema.decodeUnknownOption(GetFileAnswer)(json)
        if (response.status >= 500 || response.status === 429) {
          return yield* new Flaky({ reason: `Telegram answered ${response.status}` })
        }
        const description = Option.getOrElse(
          Option.flatMap(answer, (a) => Option.fromNullable(a.description)),
          () => ""
        )
        if (description.includes("too big")) {
          return yield* new NotBrought({ reason: `it is larger than the ${sizeText(limit)} limit` })
        }
        const result = Option.flatMap(answer, (a) => a.ok ? Option.fromNullable(a.result) : Option.none())
        const path = Option.flatMap(result, (r) => Option.fromNullable(r.file_path))
        if (Option.isNone(path)) {
          return yield* new NotBrought({
            reason: `Telegram did not offer it${description === "" ? "" : `: ${description}`}`
          })
        }
        const size = Option.flatMap(result, (r) => Option.fromNullable(r.file_size))
        if (Option.isSome(size) && size.value > limit) {
          return yield* new NotBrought({ reason: `it is larger than the ${sizeText(limit)} limit` })
        }
        const fileUrl = `${telegramRoot}/file/bot${token}/${path.value.split("/").map(encodeURIComponent).join("/")}`
        return { url: fileUrl, headers: {} }
      })

    /** One file fetched and stored in the room's library. */
    const bringOne = (file: PlatformFile, target: MediaTarget) =>
      Effect.gen(function*() {
        const platformLimit = file.source.platform === "telegram" ? TELEGRAM_MAX_DOWNLOAD_BYTES : Infinity
        const limit = Math.min(platformLimit, files.maxFileBytes)
        const over = new NotBrought({ reason: `it is larger than the ${sizeText(limit)} limit` })
        if (file.size !== null && file.size > limit) return yield* over
        const where = yield* locate(file, target.token, limit)
        const stored = yield* Effect.scoped(Effect.gen(function*() {
          const response = yield* get(where.url, where.headers)
          const length = Number(response.headers["content-length"] ?? "NaN")
          if (Number.isFinite(length) && length > limit) return yield* over
          const bytes = yield* store.stage(response.stream, limit).pipe(
            Effect.catchTags({
              BlobTooLarge: () => Effect.fail(over),
              ResponseError: () => Effect.fail(new Flaky({ reason: "the download broke off" }))
            })
          )
          return yield* files.ingest(target.room, target.author, {
            name: file.name,
            declaredType: file.mimetype
          }, bytes)
        }))
        return stored.id
      }).pipe(
        Effect.retry({ schedule: Schedule.exponential("500 millis"), times: 2, while: (e) => e._tag === "Flaky" }),
        Effect.timeoutFail({
          duration: FILE_TIMEOUT,
          onTimeout: () => new NotBrought({ reason: "it took too long to fetch" })
        }),
        Effect.catchTags({
          Flaky: (e) => Effect.fail(new NotBrought({ reason: `it could not be fetched (${e.reason})` })),
          PayloadTooLarge: () => Effect.fail(new NotBrought({ reason: "the org's file storage is full" })),
          BlobStoreError: () => Effect.fail(new NotBrought({ reason: "the file storage is unavailable" })),
          Unavailable: () => Effect.fail(new NotBrought({ reason: "the file storage is unavailable" }))
        })
      )

    /**
     * Fetches a message's files, stores them, and attaches them to the
     * message with a line for each that was not brought over (more than a
     * message's attachments are not fetched). Never fails: what went wrong is
     * told in the message, and logged.
     */
    const bring = Effect.fn("Media.bring")(function*(target: MediaTarget, platformFiles: ReadonlyArray<PlatformFile>) {
      const results = yield* Effect.forEach(
        platformFiles.slice(0, MAX_ATTACHMENTS),
        (file) => Effect.either(bringOne(file, target)),
        { concurrency: CONCURRENCY }
      )
      const ids: Array<FileId> = []
      const notes: Array<string> = []
      results.forEach((result, i) => {
        if (Either.isRight(result)) ids.push(result.right)
        else notes.push(noteFor(platformFiles[i]?.name ?? "file", result.left.reason))
      })
      for (const file of platformFiles.slice(MAX_ATTACHMENTS)) {
        notes.push(noteFor(file.name, `a message carries at most ${MAX_ATTACHMENTS} files`))
      }
      if (notes.length > 0) yield* Effect.logWarning(`gateway: files not brought over: ${notes.join(" ")}`)
      yield* messages.attach(target.room, target.author, target.messageId, ids, notes)
    }, (effect) =>
      Effect.catchAllCause(
        effect,
        (cause) => Effect.logWarning("gateway: a message's files could not be attached", cause)
      ))

    return { bring } as const
  }),
  // Redirects are not followed: a download must come from where it was asked for.
  dependencies: [
    Files.Default,
    FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.RequestInit, { redirect: "manual" })))
  ]
}) {}
