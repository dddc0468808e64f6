/**
 * Rooms, direct rooms, membership, threads and typing.
 */
import { HttpApiBuilder } from "@effect/platform"
import { RoomList, TroupeApi } from "@troupe/api/Api"
import { Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import { Typing } from "@troupe/domain/Event"
import { roleAtLeast } from "@troupe/domain/Org"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Effect, Option } from "effect"
import { Access, orUnavailable } from "../Access.js"
import { Feed } from "@troupe/feed/Feed"

/** The rooms group. */
export const RoomsLive = HttpApiBuilder.group(TroupeApi, "rooms", (handlers) =>
  Effect.gen(function*() {
    const rooms = yield* RoomRepo
    const access = yield* Access
    const feed = yield* Feed
    return handlers
      .handle("create", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.orgRole(path.org, "member", "creating rooms")
          yield* access.write(path.org)
          return yield* orUnavailable(rooms.create(path.org, a.user, { name: payload.name, kind: payload.kind ?? "public", topic: payload.topic ?? "" }))
        }))
      .handle("list", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.org(path.org)
          const listing = yield* orUnavailable(rooms.list(path.org, a.user.id, a.guest))
          return new RoomList({ rooms: listing.rooms, position: String(listing.position) })
        }))
      .handle("openDm", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.org(path.org)
          yield* access.write(path.org)
          const result = yield* orUnavailable(rooms.openDm(path.org, a.user, payload.participants))
          return result.room
        }))
      .handle("get", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          return yield* orUnavailable(rooms.get(a.orgId, path.room, a.user.id, a.guest))
        }))
      .handle("update", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.member(path.room, "change it")
          if (payload.name === undefined && payload.topic === undefined && payload.routing === undefined) {
            return yield* new InvalidInput({ message: "give a name, a topic or a routing mode to change" })
          }
          if (a.guest) return yield* new Forbidden({ message: "guests cannot change rooms" })
          yield* access.write(a.orgId)
          return yield* orUnavailable(rooms.update(a.orgId, path.room, payload))
        }))
      .handle("archive", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          if (a.room.createdBy !== a.user.id && !roleAtLeast(a.role, "admin")) {
            return yield* new Forbidden({ message: "only the room's creator or an admin can archive it" })
          }
          yield* access.write(a.orgId)
          return yield* orUnavailable(rooms.archive(a.orgId, path.room))
        }))
      .handle("join", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          if (a.room.kind !== "public") return yield* new Forbidden({ message: "only public rooms can be joined freely" })
          yield* access.write(a.orgId)
          yield* orUnavailable(rooms.addMember(a.orgId, path.room, a.user.id))
        }))
      .handle("leave", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.member(path.room, "leave it")
          yield* access.write(a.orgId)
          yield* orUnavailable(rooms.removeMember(a.orgId, path.room, a.user.id))
        }))
      .handle("members", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          return yield* orUnavailable(rooms.members(a.orgId, path.room))
        }))
      .handle("addMember", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.member(path.room, "add people")
          if (a.guest) return yield* new Forbidden({ message: "guests cannot add people to rooms" })
          yield* access.write(a.orgId)
          yield* orUnavailable(rooms.addMember(a.orgId, path.room, payload.userId))
        }))
      .handle("removeMember", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          const kind = yield* orUnavailable(rooms.memberKind(a.orgId, path.room, path.member))
          if (Option.isNone(kind)) return yield* NotFound.of("room member", path.member)
          if (kind.value === "teammate") {
            if (!a.isMember || a.guest) {
              return yield* new Forbidden({ message: "only the room's members (not guests) can remove teammates from it" })
            }
          } else if (path.member !== a.user.id && a.room.createdBy !== a.user.id && !roleAtLeast(a.role, "admin")) {
            return yield* new Forbidden({ message: "only the room's creator or an admin can remove others" })
          }
          yield* access.write(a.orgId)
          yield* orUnavailable(rooms.removeMember(a.orgId, path.room, path.member))
        }))
      .handle("threads", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          return yield* orUnavailable(rooms.threads(a.orgId, path.room, a.user.id))
        }))
      .handle("typing", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.member(path.room, "type in it")
          yield* feed.publishEphemeral(
            a.orgId,
            path.room,
            new Typing({ roomId: path.room, threadId: payload.threadId ?? null, userId: a.user.id })
          )
        }))
  }))
