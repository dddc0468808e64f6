/**
 * Orgs, members, API keys and search.
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Orgs } from "@troupe/workspace/Orgs"
import { Effect } from "effect"

/** The orgs group. */
export const OrgsLive = HttpApiBuilder.group(TroupeApi, "orgs", (handlers) =>
  Effect.gen(function*() {
    const orgs = yield* Orgs
    return handlers
      .handle("create", ({ payload }) => Effect.flatMap(CurrentUser, (c) => orgs.create(c, payload)))
      .handle("list", () => Effect.flatMap(CurrentUser, (c) => orgs.list(c)))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (c) => orgs.get(c, path.org)))
      .handle(
        "update",
        ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => orgs.update(c, path.org, payload))
      )
      .handle(
        "delete",
        ({ path, urlParams }) => Effect.flatMap(CurrentUser, (c) => orgs.remove(c, path.org, urlParams.confirm))
      )
      .handle("members", ({ path }) => Effect.flatMap(CurrentUser, (c) => orgs.members(c, path.org)))
      .handle("presence", ({ path }) => Effect.flatMap(CurrentUser, (c) => orgs.online(c, path.org)))
      .handle(
        "addMember",
        ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => orgs.addMember(c, path.org, payload))
      )
      .handle(
        "changeRole",
        ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => orgs.changeRole(c, path.org, path.user, payload.role))
      )
      .handle(
        "removeMember",
        ({ path }) => Effect.flatMap(CurrentUser, (c) => orgs.removeMember(c, path.org, path.user))
      )
      .handle(
        "createApiKey",
        ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => orgs.createApiKey(c, path.org, payload))
      )
      .handle("apiKeys", ({ path }) => Effect.flatMap(CurrentUser, (c) => orgs.apiKeys(c, path.org)))
      .handle(
        "revokeApiKey",
        ({ path }) => Effect.flatMap(CurrentUser, (c) => orgs.revokeApiKey(c, path.org, path.key))
      )
      .handle(
        "search",
        ({ path, urlParams }) =>
          Effect.flatMap(CurrentUser, (c) =>
            orgs.search(c, path.org, {
              text: urlParams.q,
              limit: urlParams.limit ?? 20,
              offset: urlParams.offset ?? 0,
              roomId: urlParams.room,
              authorId: urlParams.author,
              after: urlParams.after,
              before: urlParams.before
            }))
      )
  }))
