/**
 * Data rights: admins export what the org holds (all of it, or about one
 * person) and erase a person's data from the org.
 */
import type { Caller } from "@troupe/domain/Caller"
import { Forbidden } from "@troupe/domain/Errors"
import type { OrgId, UserId } from "@troupe/domain/Ids"
import { DataRightsRepo } from "@troupe/store/DataRightsRepo"
import { FileRepo } from "@troupe/store/FileRepo"
import { Effect } from "effect"
import { Access } from "./Access.js"
import { Limits } from "./Limits.js"
import { orUnavailable } from "./Unavailable.js"

/** The data-rights use cases. */
export class DataRights extends Effect.Service<DataRights>()("@troupe/workspace/DataRights", {
  effect: Effect.gen(function*() {
    const repo = yield* DataRightsRepo
    const files = yield* FileRepo
    const access = yield* Access
    const limits = yield* Limits

    /**
     * The org's records as JSON lines, or with `userId` only what that
     * person authored and what is about them (a member, or a former member
     * whose data the org still holds). Admins only. Checks run before the
     * first line, so a refusal is a plain error; a failure mid-way ends the
     * stream without its `end` line.
     */
    const exportLines = Effect.fn("DataRights.exportLines")(
      function*(caller: Caller, orgId: OrgId, userId: UserId | undefined) {
        yield* access.orgRole(caller, orgId, "admin", "exporting the org's data")
        if (userId !== undefined) yield* orUnavailable(repo.requireKnown(orgId, userId))
        return repo.exportLines(orgId, userId ?? null)
      }
    )

    /**
     * Erases a person's data from the org (see `DataRightsRepo.erase`).
     * Admins only; only owners erase owners, never the last one; nobody
     * erases themself (another admin does, so it is never a slip). The
     * bytes of their files go once the erasure has committed.
     */
    const erase = Effect.fn("DataRights.erase")(function*(caller: Caller, orgId: OrgId, userId: UserId) {
      const a = yield* access.orgRole(caller, orgId, "admin", "erasing a person's data")
      if (userId === a.user.id) {
        return yield* new Forbidden({
          message: "you cannot erase your own data; another admin can, or leave the org"
        })
      }
      yield* limits.write(caller, orgId)
      const report = yield* orUnavailable(repo.erase(orgId, a.role, a.user.id, userId))
      // Left for the retention sweep if this fails: the erasure itself has committed.
      yield* files.sweep(orgId).pipe(
        Effect.catchAll((e) => Effect.logWarning("the files of an erasure wait for the next sweep", e))
      )
      return report
    }, Effect.scoped)

    return { exportLines, erase } as const
  }),
  dependencies: [Access.Default, Limits.Default]
}) {}
