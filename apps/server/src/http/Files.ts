/**
 * Files: upload (multipart), list, metadata, download and delete, and the
 * org's storage figures; and people's avatars, uploaded and served alike.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import type { FileInfo } from "@troupe/domain/File"
import { Avatars } from "@troupe/workspace/Avatars"
import { Files } from "@troupe/workspace/Files"
import { Effect } from "effect"

/** Types a browser may show in place; everything else downloads. */
const inlineTypes = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"])

/** `Content-Disposition` with the file's name, ASCII-safe with the exact name in `filename*`. */
export const disposition = (file: FileInfo) => {
  const ascii = file.name.replace(/[^\x20-\x7e]|["\\]/g, "_")
  const kind = inlineTypes.has(file.contentType) ? "inline" : "attachment"
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file.name)}`
}

export const declaredLength = (value: string | undefined) => {
  if (value === undefined) return undefined
  const n = Number(value)
  return Number.isFinite(n) ? n : undefined
}

/** The files group. */
export const FilesLive = HttpApiBuilder.group(TroupeApi, "files", (handlers) =>
  Effect.gen(function*() {
    const files = yield* Files
    return handlers
      .handle("upload", ({ path, payload, request }) =>
        Effect.flatMap(CurrentUser, (c) =>
          files.upload(c, path.room, payload, declaredLength(request.headers["content-length"]))))
      .handle("list", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, (c) =>
          files.list(c, path.room, { limit: urlParams.limit ?? 50, before: urlParams.before })))
      .handle("get", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          files.get(c, path.room, path.file)))
      .handle("download", ({ path, request }) =>
        Effect.gen(function*() {
          const c = yield* CurrentUser
          const { content, file } = yield* files.download(c, path.room, path.file)
          const etag = `"${file.sha256}"`
          const headers = {
            etag,
            "cache-control": "private, max-age=3600",
            "x-content-type-options": "nosniff",
            // Served bytes are other people's: never run them as a page of this origin.
            "content-security-policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
            "content-disposition": disposition(file)
          }
          if (request.headers["if-none-match"] === etag) {
            return HttpServerResponse.empty({ status: 304, headers })
          }
          return HttpServerResponse.stream(content, {
            contentType: file.contentType,
            contentLength: file.size,
            headers
          })
        }))
      .handle("delete", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          files.remove(c, path.room, path.file)))
      .handle("usage", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) => files.usage(c, path.org)))
      .handle("search", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, (c) =>
          files.search(c, path.org, {
            text: urlParams.q,
            limit: urlParams.limit ?? 20,
            offset: urlParams.offset ?? 0
          })))
  }))

/** The avatars group. */
export const AvatarsLive = HttpApiBuilder.group(TroupeApi, "avatars", (handlers) =>
  Effect.gen(function*() {
    const avatars = yield* Avatars
    return handlers
      .handle("set", ({ payload, request }) =>
        Effect.flatMap(CurrentUser, (c) =>
          avatars.set(c, payload, declaredLength(request.headers["content-length"]))))
      .handle("remove", () =>
        Effect.flatMap(CurrentUser, (c) => avatars.remove(c)))
      .handle("get", ({ path, request }) =>
        Effect.gen(function*() {
          const c = yield* CurrentUser
          const avatar = yield* avatars.get(c, path.user)
          const etag = `"${avatar.sha256}"`
          const headers = {
            etag,
            // Each picture has its own URL (`?v=`): a changed one is a new address.
            "cache-control": "private, max-age=86400",
            "x-content-type-options": "nosniff",
            "content-security-policy": "sandbox; default-src 'none'"
          }
          if (request.headers["if-none-match"] === etag) return HttpServerResponse.empty({ status: 304, headers })
          return HttpServerResponse.stream(avatar.content, { contentType: avatar.type, headers })
        }))
  }))
