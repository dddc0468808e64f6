/**
 * Orgs, members, API keys and search.
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import { CreatedApiKey, roleAtLeast } from "@troupe/domain/Org"
import { AccountRepo } from "@troupe/store/AccountRepo"
import { MessageRepo } from "@troupe/store/MessageRepo"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Effect, Option } from "effect"
import { Access, orUnavailable } from "../Access.js"

/** The orgs group. */
export const OrgsLive = HttpApiBuilder.group(TroupeApi, "orgs", (handlers) =>
  Effect.gen(function*() {
    const orgs = yield* OrgRepo
    const accounts = yield* AccountRepo
    const rooms = yield* RoomRepo
    const messages = yield* MessageRepo
    const access = yield* Access
    return handlers
      .handle("create", ({ payload }) =>
        Effect.gen(function*() {
          const { apiKey, user } = yield* CurrentUser
          if (Option.isSome(apiKey)) return yield* new Forbidden({ message: "API keys cannot create orgs" })
          return yield* orUnavailable(orgs.create(user, payload))
        }))
      .handle("list", () =>
        Effect.gen(function*() {
          const { apiKey, user } = yield* CurrentUser
          const all = yield* orUnavailable(orgs.listFor(user.id))
          return Option.isSome(apiKey) ? all.filter((o) => o.id === apiKey.value.orgId) : all
        }))
      .handle("get", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.org(path.org)
          return yield* orUnavailable(orgs.get(path.org, a.role))
        }))
      .handle("members", ({ path }) =>
        Effect.gen(function*() {
          yield* access.org(path.org)
          return yield* orUnavailable(orgs.members(path.org))
        }))
      .handle("addMember", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.orgRole(path.org, "admin", "adding members")
          const role = payload.role ?? "member"
          if (role === "owner" && a.role !== "owner") {
            return yield* new Forbidden({ message: "only an owner can add another owner" })
          }
          yield* access.write(path.org)
          const user = yield* orUnavailable(accounts.findByEmail(payload.email))
          if (Option.isNone(user)) {
            return yield* new NotFound({ resource: "user", message: `no account uses ${payload.email}; ask them to sign up first` })
          }
          return yield* orUnavailable(orgs.addMember(path.org, user.value, role))
        }))
      .handle("changeRole", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.orgRole(path.org, "admin", "changing roles")
          yield* access.write(path.org)
          return yield* orUnavailable(orgs.changeRole(path.org, a.role, path.user, payload.role))
        }))
      .handle("removeMember", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.org(path.org)
          if (path.user !== a.user.id && !roleAtLeast(a.role, "admin")) {
            return yield* new Forbidden({ message: "removing members needs the admin role or higher" })
          }
          yield* access.write(path.org)
          yield* orUnavailable(orgs.removeMember(path.org, a.role, a.user.id, path.user))
        }))
      .handle("createApiKey", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.orgRole(path.org, "admin", "creating API keys")
          if (Option.isSome((yield* CurrentUser).apiKey)) {
            return yield* new Forbidden({ message: "API keys cannot create API keys" })
          }
          const role = payload.role ?? "member"
          if (!roleAtLeast(a.role, role)) {
            return yield* new InvalidInput({ message: `a key cannot have more power (${role}) than its creator (${a.role})` })
          }
          yield* access.write(path.org)
          const bot = yield* orUnavailable(accounts.createBot(payload.name))
          const created = yield* orUnavailable(orgs.createApiKey(path.org, bot, a.user.id, payload.name, role))
          return new CreatedApiKey(created)
        }))
      .handle("apiKeys", ({ path }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "admin", "listing API keys")
          return yield* orUnavailable(orgs.listApiKeys(path.org))
        }))
      .handle("revokeApiKey", ({ path }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "admin", "revoking API keys")
          yield* orUnavailable(orgs.revokeApiKey(path.org, path.key))
        }))
      .handle("search", ({ path, urlParams }) =>
        Effect.gen(function*() {
          const a = yield* access.org(path.org)
          const readable = yield* orUnavailable(rooms.readableRoomIds(path.org, a.user.id, a.guest))
          return yield* orUnavailable(messages.search(path.org, a.user.id, readable, urlParams.q, urlParams.limit ?? 20))
        }))
  }))
