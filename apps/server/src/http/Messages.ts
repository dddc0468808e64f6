/**
 * Messages: post, page, edit, delete, history, reactions and read markers.
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { InvalidInput, NotFound } from "@troupe/domain/Errors"
import { roleAtLeast } from "@troupe/domain/Org"
import { MessageRepo } from "@troupe/store/MessageRepo"
import { Effect } from "effect"
import { Access, orUnavailable } from "../Access.js"

/** The messages group. */
export const MessagesLive = HttpApiBuilder.group(TroupeApi, "messages", (handlers) =>
  Effect.gen(function*() {
    const messages = yield* MessageRepo
    const access = yield* Access
    return handlers
      .handle("post", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.member(path.room, "post in it")
          yield* access.write(a.orgId)
          // Teammates hear of the message from the event log (the outbox), not from this request.
          const result = yield* orUnavailable(
            messages.post(a.room, { kind: "user", id: a.user.id, name: a.user.name }, payload)
          )
          return result.message
        }))
      .handle("list", ({ path, urlParams }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          if (urlParams.before !== undefined && urlParams.after !== undefined && urlParams.after >= urlParams.before) {
            return yield* new InvalidInput({ message: "after must be smaller than before" })
          }
          return yield* orUnavailable(messages.page(a.room, a.user.id, {
            before: urlParams.before,
            after: urlParams.after,
            limit: urlParams.limit ?? 50,
            threadId: urlParams.threadId
          }))
        }))
      .handle("get", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          const message = yield* orUnavailable(messages.get(a.orgId, path.message, a.user.id))
          if (message.roomId !== path.room) return yield* NotFound.of("message", path.message)
          return message
        }))
      .handle("edit", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          yield* access.write(a.orgId)
          return yield* orUnavailable(messages.edit(a.room, path.message, a.user.id, payload.text))
        }))
      .handle("delete", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          yield* access.write(a.orgId)
          return yield* orUnavailable(
            messages.remove(a.room, path.message, a.user.id, roleAtLeast(a.role, "admin"))
          )
        }))
      .handle("edits", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.room(path.room)
          return yield* orUnavailable(messages.history(a.room, path.message))
        }))
      .handle("react", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.member(path.room, "react")
          yield* access.write(a.orgId)
          return yield* orUnavailable(messages.react(a.room, path.message, a.user.id, path.emoji, true))
        }))
      .handle("unreact", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.member(path.room, "react")
          yield* access.write(a.orgId)
          return yield* orUnavailable(messages.react(a.room, path.message, a.user.id, path.emoji, false))
        }))
      .handle("markRead", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.member(path.room, "track what you have read")
          yield* orUnavailable(messages.markRead(a.room, a.user.id, payload.messageId, payload.threadId))
        }))
  }))
