/**
 * Purging a deleted org: its files' bytes first (through the blob store),
 * then its events and rows in one statement. Run right after the org is
 * closed, and by the retention sweep for any purge a stopped node left
 * unfinished; running it twice is harmless.
 */
import type { OrgId } from "@troupe/domain/Ids"
import { Effect } from "effect"
import { FileRepo } from "./FileRepo.js"
import { OrgRepo } from "./OrgRepo.js"

/** Purges one closed org; returns whether it was purged (false: not closed, or already gone). */
export const purgeOrg = (orgId: OrgId) =>
  Effect.gen(function*() {
    const files = yield* FileRepo
    const orgs = yield* OrgRepo
    yield* files.removeAll(orgId)
    return yield* orgs.purge(orgId)
  }).pipe(Effect.withSpan("OrgPurge.purgeOrg", { attributes: { "org.id": orgId } }))

/** Purges up to `limit` closed orgs, oldest first; returns how many went. */
export const purgeClosedOrgs = (limit: number) =>
  Effect.gen(function*() {
    const orgs = yield* OrgRepo
    const closed = yield* orgs.closedOrgs(limit)
    const purged = yield* Effect.forEach(closed, purgeOrg)
    return purged.filter((p) => p).length
  })
