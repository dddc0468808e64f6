/**
 * Data rights: the org's (or a person's) export as streamed JSON lines, and
 * a person's erasure.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { DataRights } from "@troupe/workspace/DataRights"
import { Effect, Stream } from "effect"

/** The data-rights group. */
export const DataRightsLive = HttpApiBuilder.group(TroupeApi, "dataRights", (handlers) =>
  Effect.gen(function*() {
    const rights = yield* DataRights
    return handlers
      .handle("export", ({ path, urlParams }) =>
        Effect.gen(function*() {
          const c = yield* CurrentUser
          const lines = yield* rights.exportLines(c, path.org, urlParams.user)
          const name = `troupe-${path.org}${urlParams.user === undefined ? "" : `-${urlParams.user}`}.jsonl`
          return HttpServerResponse.stream(lines.pipe(Stream.encodeText), {
            contentType: "application/x-ndjson",
            headers: {
              "content-disposition": `attachment; filename="${name}"`,
              "cache-control": "no-store",
              "x-content-type-options": "nosniff"
            }
          })
        }))
      .handle("erase", ({ path }) => Effect.flatMap(CurrentUser, (c) => rights.erase(c, path.org, path.user)))
  }))
