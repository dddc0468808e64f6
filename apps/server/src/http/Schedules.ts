/**
 * Schedules: create, list, read, change (pause, resume) and delete.
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Schedules } from "@troupe/workspace/Schedules"
import { Effect } from "effect"

/** The schedules group. */
export const SchedulesLive = HttpApiBuilder.group(TroupeApi, "schedules", (handlers) =>
  Effect.gen(function*() {
    const schedules = yield* Schedules
    return handlers
      .handle("create", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) => schedules.create(c, path.room, payload)))
      .handle("list", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) => schedules.list(c, path.room)))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (c) => schedules.get(c, path.room, path.schedule)))
      .handle("update", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          schedules.update(c, path.room, path.schedule, payload)))
      .handle("delete", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) => schedules.remove(c, path.room, path.schedule)))
  }))
