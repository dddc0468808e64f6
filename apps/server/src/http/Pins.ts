/**
 * The room pinboard: pin, list, edit a note, its versions, unpin.
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Pins } from "@troupe/workspace/Pins"
import { Effect } from "effect"

/** The pins group. */
export const PinsLive = HttpApiBuilder.group(TroupeApi, "pins", (handlers) =>
  Effect.gen(function*() {
    const pins = yield* Pins
    return handlers
      .handle("create", ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => pins.create(c, path.room, payload)))
      .handle("list", ({ path }) => Effect.flatMap(CurrentUser, (c) => pins.list(c, path.room)))
      .handle("edit", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) => pins.edit(c, path.room, path.pin, payload)))
      .handle("versions", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) => pins.versions(c, path.room, path.pin)))
      .handle("delete", ({ path }) => Effect.flatMap(CurrentUser, (c) => pins.remove(c, path.room, path.pin)))
  }))
