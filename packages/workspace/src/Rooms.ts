/**
 * Rooms: creating, listing and changing them, direct rooms, membership,
 * threads and typing.
 */
import type { Caller } from "@troupe/domain/Caller"
import { Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import { Typing } from "@troupe/domain/Event"
import type { MessageId, OrgId, RoomId, UserId } from "@troupe/domain/Ids"
import { roleAtLeast } from "@troupe/domain/Org"
import type { CreateRoomRequest, NotifyLevel, UpdateRoomRequest } from "@troupe/domain/Room"
import { EventBus } from "@troupe/realtime/EventBus"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Effect, Option, Schema } from "effect"
import { Access, requireMakerOrAdmin, requireRole } from "./Access.js"
import { Limits } from "./Limits.js"
import { orUnavailable } from "./Unavailable.js"

const encodeTyping = Schema.encodeSync(Typing)

/** The room use cases. */
export class Rooms extends Effect.Service<Rooms>()("@troupe/workspace/Rooms", {
  effect: Effect.gen(function*() {
    const rooms = yield* RoomRepo
    const access = yield* Access
    const limits = yield* Limits
    const bus = yield* EventBus

    /** Members (not guests) create public and private rooms. */
    const create = Effect.fn("Rooms.create")(function*(caller: Caller, orgId: OrgId, input: CreateRoomRequest) {
      const a = yield* access.orgRole(caller, orgId, "member", "creating rooms")
      yield* limits.write(caller, orgId)
      return yield* orUnavailable(
        rooms.create(orgId, a.user, { name: input.name, kind: input.kind ?? "public", topic: input.topic ?? "" })
      )
    }, Effect.scoped)

    /** The caller's rooms and the public ones they may join, with the log position the listing reflects. */
    const list = Effect.fn("Rooms.list")(function*(caller: Caller, orgId: OrgId) {
      const a = yield* access.org(caller, orgId)
      return yield* orUnavailable(rooms.list(orgId, a.user.id, a.guest))
    })

    /** The direct room of the caller and `participants` (the same one for the same people). */
    const openDm = Effect.fn("Rooms.openDm")(
      function*(caller: Caller, orgId: OrgId, participants: ReadonlyArray<UserId>) {
        const a = yield* access.org(caller, orgId)
        yield* limits.write(caller, orgId)
        return (yield* orUnavailable(rooms.openDm(orgId, a.user, participants))).room
      },
      Effect.scoped
    )

    const get = Effect.fn("Rooms.get")(function*(caller: Caller, roomId: RoomId) {
      const a = yield* access.room(caller, roomId)
      return yield* orUnavailable(rooms.get(a.orgId, roomId, a.user.id, a.guest))
    })

    /** Room members (not guests) change its name, topic and routing. */
    const update = Effect.fn("Rooms.update")(function*(caller: Caller, roomId: RoomId, patch: UpdateRoomRequest) {
      if (patch.name === undefined && patch.topic === undefined && patch.routing === undefined) {
        return yield* new InvalidInput({ message: "give a name, a topic or a routing mode to change" })
      }
      const a = yield* access.contributor(caller, roomId, "change rooms")
      yield* limits.write(caller, a.orgId)
      return yield* orUnavailable(rooms.update(a.orgId, roomId, patch))
    }, Effect.scoped)

    /** The room's creator or an admin archives it. */
    const archive = Effect.fn("Rooms.archive")(function*(caller: Caller, roomId: RoomId) {
      const a = yield* access.room(caller, roomId)
      yield* requireMakerOrAdmin(a, a.room.createdBy, "only the room's creator or an admin can archive it")
      yield* limits.write(caller, a.orgId)
      return yield* orUnavailable(rooms.archive(a.orgId, roomId))
    }, Effect.scoped)

    /** Admins take an archived room back into use. */
    const unarchive = Effect.fn("Rooms.unarchive")(function*(caller: Caller, roomId: RoomId) {
      const a = yield* access.room(caller, roomId)
      yield* requireRole(a.role, "admin", "unarchiving rooms")
      yield* limits.write(caller, a.orgId)
      return yield* orUnavailable(rooms.unarchive(a.orgId, roomId))
    }, Effect.scoped)

    /** Admins delete a room they can see, with its messages and what teammates remember from it. */
    const remove = Effect.fn("Rooms.remove")(function*(caller: Caller, roomId: RoomId) {
      const a = yield* access.room(caller, roomId)
      yield* requireRole(a.role, "admin", "deleting rooms")
      yield* limits.write(caller, a.orgId)
      yield* orUnavailable(rooms.remove(a.orgId, roomId))
    }, Effect.scoped)

    /** A member's own settings for a room (muting it, what they are notified of). */
    const settings = Effect.fn("Rooms.settings")(
      function*(
        caller: Caller,
        roomId: RoomId,
        patch: { readonly muted?: boolean | undefined; readonly notify?: NotifyLevel | undefined }
      ) {
        const a = yield* access.room(caller, roomId)
        return yield* orUnavailable(rooms.setSettings(a.orgId, roomId, a.user.id, patch))
      }
    )

    /** Anyone who sees a public room may join it. */
    const join = Effect.fn("Rooms.join")(function*(caller: Caller, roomId: RoomId) {
      const a = yield* access.room(caller, roomId)
      if (a.room.kind !== "public") return yield* new Forbidden({ message: "only public rooms can be joined freely" })
      yield* limits.write(caller, a.orgId)
      yield* orUnavailable(rooms.addMember(a.orgId, roomId, a.user.id))
    }, Effect.scoped)

    const leave = Effect.fn("Rooms.leave")(function*(caller: Caller, roomId: RoomId) {
      const a = yield* access.member(caller, roomId, "leave it")
      yield* limits.write(caller, a.orgId)
      yield* orUnavailable(rooms.removeMember(a.orgId, roomId, a.user.id))
    }, Effect.scoped)

    const members = Effect.fn("Rooms.members")(function*(caller: Caller, roomId: RoomId) {
      const a = yield* access.room(caller, roomId)
      return yield* orUnavailable(rooms.members(a.orgId, roomId))
    })

    /** Room members (not guests) add people of the org. */
    const addMember = Effect.fn("Rooms.addMember")(function*(caller: Caller, roomId: RoomId, userId: UserId) {
      const a = yield* access.contributor(caller, roomId, "add people to rooms")
      yield* limits.write(caller, a.orgId)
      yield* orUnavailable(rooms.addMember(a.orgId, roomId, userId))
    }, Effect.scoped)

    /**
     * Removes a person (themself; others: the room's creator or an admin) or a
     * teammate (any member of the room but guests).
     */
    const removeMember = Effect.fn("Rooms.removeMember")(function*(caller: Caller, roomId: RoomId, memberId: string) {
      const a = yield* access.room(caller, roomId)
      const kind = yield* orUnavailable(rooms.memberKind(a.orgId, roomId, memberId))
      if (Option.isNone(kind)) return yield* NotFound.of("room member", memberId)
      if (kind.value === "teammate") {
        if (!a.isMember || a.guest) {
          return yield* new Forbidden({ message: "only the room's members (not guests) can remove teammates from it" })
        }
      } else if (memberId !== a.user.id && a.room.createdBy !== a.user.id && !roleAtLeast(a.role, "admin")) {
        return yield* new Forbidden({ message: "only the room's creator or an admin can remove others" })
      }
      yield* limits.write(caller, a.orgId)
      yield* orUnavailable(rooms.removeMember(a.orgId, roomId, memberId))
    }, Effect.scoped)

    const threads = Effect.fn("Rooms.threads")(function*(caller: Caller, roomId: RoomId) {
      const a = yield* access.room(caller, roomId)
      return yield* orUnavailable(rooms.threads(a.orgId, roomId, a.user.id))
    })

    /** Tells the room's members the caller is typing (an ephemeral event). */
    const typing = Effect.fn("Rooms.typing")(function*(caller: Caller, roomId: RoomId, threadId: MessageId | null) {
      const a = yield* access.member(caller, roomId, "type in it")
      const event = new Typing({ roomId, threadId, userId: a.user.id })
      yield* bus.publish({ orgId: a.orgId, roomId, event: encodeTyping(event), at: Date.now() })
    })

    return {
      create,
      list,
      openDm,
      get,
      update,
      archive,
      unarchive,
      remove,
      settings,
      join,
      leave,
      members,
      addMember,
      removeMember,
      threads,
      typing
    } as const
  }),
  dependencies: [Access.Default, Limits.Default]
}) {}
