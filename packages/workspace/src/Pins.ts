/**
 * The room pinboard: reading it follows the room; pinning needs membership
 * of the room and a role above guest; editing and removing a pin is for its
 * author, for room members when it is a note, and for admins (docs/access.md).
 */
import type { Caller } from "@troupe/domain/Caller"
import { Forbidden } from "@troupe/domain/Errors"
import type { PinId, RoomId } from "@troupe/domain/Ids"
import { type CreatePinRequest, mayChangePin, type Pin, type UpdatePinRequest } from "@troupe/domain/Pin"
import { PinRepo } from "@troupe/store/PinRepo"
import { Effect } from "effect"
import { Access, type RoomAccess } from "./Access.js"
import { Limits } from "./Limits.js"
import { orUnavailable } from "./Unavailable.js"

const authorizeFor = (a: RoomAccess, action: string) => (pin: Pin) =>
  mayChangePin({ userId: a.user.id, role: a.role, isMember: a.isMember }, pin)
    ? Effect.void
    : Effect.fail(
      new Forbidden({
        message: a.guest
          ? `guests cannot ${action} pins`
          : pin.kind === "note"
          ? `join the room to ${action} its notes`
          : `only whoever pinned the message, or an admin, can ${action} it`
      })
    )

/** The pinboard use cases. */
export class Pins extends Effect.Service<Pins>()("@troupe/workspace/Pins", {
  effect: Effect.gen(function*() {
    const pins = yield* PinRepo
    const access = yield* Access
    const limits = yield* Limits

    const author = (a: RoomAccess) => ({ kind: "user" as const, id: a.user.id, name: a.user.name })

    /** Pins a note or a message of the room; a message pinned twice is a `Conflict` (409). */
    const create = Effect.fn("Pins.create")(function*(caller: Caller, roomId: RoomId, input: CreatePinRequest) {
      const a = yield* access.contributor(caller, roomId, "pin")
      yield* limits.write(caller, a.orgId)
      return yield* orUnavailable(
        pins.create(
          a.orgId,
          roomId,
          author(a),
          input.messageId !== undefined ? { messageId: input.messageId } : { text: input.text ?? "" }
        )
      )
    }, Effect.scoped)

    const list = Effect.fn("Pins.list")(function*(caller: Caller, roomId: RoomId) {
      const a = yield* access.room(caller, roomId)
      return yield* orUnavailable(pins.list(a.orgId, roomId))
    })

    /** Edits a note's text as its next version. */
    const edit = Effect.fn("Pins.edit")(
      function*(caller: Caller, roomId: RoomId, pinId: PinId, input: UpdatePinRequest) {
        const a = yield* access.room(caller, roomId)
        yield* limits.write(caller, a.orgId)
        return yield* orUnavailable(
          pins.edit(a.orgId, roomId, pinId, author(a), {
            text: input.text,
            expectedVersion: input.version,
            authorize: authorizeFor(a, "edit")
          })
        )
      },
      Effect.scoped
    )

    const versions = Effect.fn("Pins.versions")(function*(caller: Caller, roomId: RoomId, pinId: PinId) {
      const a = yield* access.room(caller, roomId)
      return yield* orUnavailable(pins.versions(a.orgId, roomId, pinId))
    })

    /** Removes a pin with its history. */
    const remove = Effect.fn("Pins.remove")(function*(caller: Caller, roomId: RoomId, pinId: PinId) {
      const a = yield* access.room(caller, roomId)
      yield* limits.write(caller, a.orgId)
      yield* orUnavailable(pins.remove(a.orgId, roomId, pinId, authorizeFor(a, "remove")))
    }, Effect.scoped)

    return { create, list, edit, versions, remove } as const
  }),
  dependencies: [Access.Default, Limits.Default]
}) {}
