/**
 * Background tasks: create, list, read and cancel.
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Tasks } from "@troupe/workspace/Tasks"
import { Effect } from "effect"

/** The tasks group. */
export const TasksLive = HttpApiBuilder.group(TroupeApi, "tasks", (handlers) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks
    return handlers
      .handle("create", ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => tasks.create(c, path.room, payload)))
      .handle("list", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, (c) => tasks.list(c, path.room, urlParams.limit ?? 50)))
      .handle("get", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) => tasks.get(c, path.room, path.task)))
      .handle("cancel", ({ path }) => Effect.flatMap(CurrentUser, (c) => tasks.cancel(c, path.room, path.task)))
  }))
