/**
 * Rooms, direct rooms, membership, threads and typing.
 */
import { HttpApiBuilder } from "@effect/platform"
import { RoomList, TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Rooms } from "@troupe/workspace/Rooms"
import { Effect } from "effect"

/** The rooms group. */
export const RoomsLive = HttpApiBuilder.group(TroupeApi, "rooms", (handlers) =>
  Effect.gen(function*() {
    const rooms = yield* Rooms
    return handlers
      .handle("create", ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => rooms.create(c, path.org, payload)))
      .handle("list", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          Effect.map(rooms.list(c, path.org), (l) =>
            new RoomList({ rooms: l.rooms, position: String(l.position) }))))
      .handle("openDm", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          rooms.openDm(c, path.org, payload.participants)))
      .handle("get", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          rooms.get(c, path.room)))
      .handle("update", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) => rooms.update(c, path.room, payload)))
      .handle("archive", ({ path }) => Effect.flatMap(CurrentUser, (c) => rooms.archive(c, path.room)))
      .handle("unarchive", ({ path }) => Effect.flatMap(CurrentUser, (c) => rooms.unarchive(c, path.room)))
      .handle("delete", ({ path }) => Effect.flatMap(CurrentUser, (c) => rooms.remove(c, path.room)))
      .handle("settings", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          rooms.settings(c, path.room, payload)))
      .handle("join", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) => rooms.join(c, path.room)))
      .handle("leave", ({ path }) => Effect.flatMap(CurrentUser, (c) => rooms.leave(c, path.room)))
      .handle("members", ({ path }) => Effect.flatMap(CurrentUser, (c) => rooms.members(c, path.room)))
      .handle("addMember", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          rooms.addMember(c, path.room, payload.userId)))
      .handle("removeMember", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          rooms.removeMember(c, path.room, path.member)))
      .handle("threads", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          rooms.threads(c, path.room)))
      .handle("typing", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          rooms.typing(c, path.room, payload.threadId ?? null)))
  }))
