/**
 * Messages: posting (teammates hear of it from the event log's outbox, not
 * from here), pages, edits, deletes, reactions and read markers.
 */
import type { Caller } from "@troupe/domain/Caller"
import { InvalidInput, NotFound } from "@troupe/domain/Errors"
import type { MessageId, RoomId } from "@troupe/domain/Ids"
import type { PostMessageRequest } from "@troupe/domain/Message"
import { roleAtLeast } from "@troupe/domain/Org"
import { MessageRepo, type PageOptions } from "@troupe/store/MessageRepo"
import { Effect } from "effect"
import { Access } from "./Access.js"
import { Limits } from "./Limits.js"
import { orUnavailable } from "./Unavailable.js"

/** The message use cases. */
export class Messages extends Effect.Service<Messages>()("@troupe/workspace/Messages", {
  effect: Effect.gen(function*() {
    const messages = yield* MessageRepo
    const access = yield* Access
    const limits = yield* Limits

    /** Room members post; a repeated `clientMessageId` returns the stored message. */
    const post = Effect.fn("Messages.post")(function*(caller: Caller, roomId: RoomId, input: PostMessageRequest) {
      const a = yield* access.member(caller, roomId, "post in it")
      yield* limits.write(caller, a.orgId)
      const result = yield* orUnavailable(
        messages.post(a.room, { kind: "user", id: a.user.id, name: a.user.name }, input)
      )
      return result.message
    }, Effect.scoped)

    /** A page of the room (or a thread), in order. */
    const list = Effect.fn("Messages.list")(function*(caller: Caller, roomId: RoomId, options: PageOptions) {
      const a = yield* access.room(caller, roomId)
      if (options.before !== undefined && options.after !== undefined && options.after >= options.before) {
        return yield* new InvalidInput({ message: "after must be smaller than before" })
      }
      return yield* orUnavailable(messages.page(a.room, a.user.id, options))
    })

    const get = Effect.fn("Messages.get")(function*(caller: Caller, roomId: RoomId, messageId: MessageId) {
      const a = yield* access.room(caller, roomId)
      const message = yield* orUnavailable(messages.get(a.orgId, messageId, a.user.id))
      if (message.roomId !== roomId) return yield* NotFound.of("message", messageId)
      return message
    })

    /** Authors edit their own messages (checked with the row locked). */
    const edit = Effect.fn("Messages.edit")(
      function*(caller: Caller, roomId: RoomId, messageId: MessageId, text: string) {
        const a = yield* access.room(caller, roomId)
        yield* limits.write(caller, a.orgId)
        return yield* orUnavailable(messages.edit(a.room, messageId, a.user.id, text))
      },
      Effect.scoped
    )

    /** Authors delete their own messages, admins any; a tombstone stays. */
    const remove = Effect.fn("Messages.remove")(function*(caller: Caller, roomId: RoomId, messageId: MessageId) {
      const a = yield* access.room(caller, roomId)
      yield* limits.write(caller, a.orgId)
      return yield* orUnavailable(messages.remove(a.room, messageId, a.user.id, roleAtLeast(a.role, "admin")))
    }, Effect.scoped)

    const edits = Effect.fn("Messages.edits")(function*(caller: Caller, roomId: RoomId, messageId: MessageId) {
      const a = yield* access.room(caller, roomId)
      return yield* orUnavailable(messages.history(a.room, messageId))
    })

    /** Room members add or remove their reaction. */
    const react = Effect.fn("Messages.react")(
      function*(caller: Caller, roomId: RoomId, messageId: MessageId, emoji: string, add: boolean) {
        const a = yield* access.member(caller, roomId, "react")
        yield* limits.write(caller, a.orgId)
        return yield* orUnavailable(messages.react(a.room, messageId, a.user.id, emoji, add))
      },
      Effect.scoped
    )

    /** Moves the caller's room (or thread) read marker forward. */
    const markRead = Effect.fn("Messages.markRead")(
      function*(caller: Caller, roomId: RoomId, messageId: MessageId, threadId: MessageId | undefined) {
        const a = yield* access.member(caller, roomId, "track what you have read")
        yield* orUnavailable(messages.markRead(a.room, a.user.id, messageId, threadId))
      }
    )

    return { post, list, get, edit, remove, edits, react, markRead } as const
  }),
  dependencies: [Access.Default, Limits.Default]
}) {}
