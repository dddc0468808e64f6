/**
 * Orgs: creating and listing them, their members and roles, API keys, and
 * search across the rooms a caller can read.
 */
import type { Caller } from "@troupe/domain/Caller"
import { Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import { type ApiKeyId, type OrgId, UserId } from "@troupe/domain/Ids"
import { CreatedApiKey, PresenceList, type Role, roleAtLeast } from "@troupe/domain/Org"
import { Presence } from "@troupe/realtime/Presence"
import { AccountRepo } from "@troupe/store/AccountRepo"
import { FileRepo } from "@troupe/store/FileRepo"
import { MessageRepo, type SearchQuery } from "@troupe/store/MessageRepo"
import { purgeOrg } from "@troupe/store/OrgPurge"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Effect, Option } from "effect"
import { Access } from "./Access.js"
import { requireEmailDomain } from "./EmailDomains.js"
import { Limits } from "./Limits.js"
import { orUnavailable } from "./Unavailable.js"

/** The org use cases. */
export class Orgs extends Effect.Service<Orgs>()("@troupe/workspace/Orgs", {
  effect: Effect.gen(function*() {
    const orgs = yield* OrgRepo
    const context = yield* Effect.context<OrgRepo | FileRepo>()
    const accounts = yield* AccountRepo
    const rooms = yield* RoomRepo
    const messages = yield* MessageRepo
    const access = yield* Access
    const limits = yield* Limits
    const presence = yield* Presence

    /** People create orgs (and own them); API keys cannot. */
    const create = Effect.fn("Orgs.create")(function*(caller: Caller, input: { name: string; slug: string }) {
      if (caller.apiKey !== null) return yield* new Forbidden({ message: "API keys cannot create orgs" })
      return yield* orUnavailable(orgs.create(caller.user, input))
    })

    /** Admins rename the org (its slug stays) and set its e-mail domains. */
    const update = Effect.fn("Orgs.update")(
      function*(
        caller: Caller,
        orgId: OrgId,
        patch: { readonly name?: string | undefined; readonly allowedEmailDomains?: ReadonlyArray<string> | undefined }
      ) {
        const a = yield* access.orgRole(caller, orgId, "admin", "changing the org")
        yield* limits.write(caller, orgId)
        return yield* orUnavailable(orgs.update(orgId, patch, a.role))
      },
      Effect.scoped
    )

    /**
     * Owners (people, not keys) delete the org, confirming with its slug. It
     * closes at once (nobody reaches it any more; its members get
     * `org.deleted`), then its data is purged; a purge cut short is finished
     * by the retention sweep, so the delete succeeds once the org is closed.
     */
    const remove = Effect.fn("Orgs.remove")(function*(caller: Caller, orgId: OrgId, confirm: string) {
      yield* access.orgRole(caller, orgId, "owner", "deleting the org")
      if (caller.apiKey !== null) return yield* new Forbidden({ message: "API keys cannot delete orgs" })
      yield* orUnavailable(orgs.close(orgId, confirm))
      yield* purgeOrg(orgId).pipe(
        Effect.provide(context),
        Effect.catchAll((e) =>
          Effect.logWarning("the deleted org's purge stopped; the retention sweep will finish it", e)
        )
      )
    })

    /** The caller's orgs (an API key's one org). */
    const list = Effect.fn("Orgs.list")(function*(caller: Caller) {
      const all = yield* orUnavailable(orgs.listFor(caller.user.id))
      return caller.apiKey === null ? all : all.filter((o) => o.id === caller.apiKey?.orgId)
    })

    const get = Effect.fn("Orgs.get")(function*(caller: Caller, orgId: OrgId) {
      const a = yield* access.org(caller, orgId)
      return yield* orUnavailable(orgs.get(orgId, a.role))
    })

    const members = Effect.fn("Orgs.members")(function*(caller: Caller, orgId: OrgId) {
      yield* access.org(caller, orgId)
      return yield* orUnavailable(orgs.members(orgId))
    })

    /** Which of the org's people are online now. */
    const online = Effect.fn("Orgs.online")(function*(caller: Caller, orgId: OrgId) {
      yield* access.org(caller, orgId)
      const people = (yield* orUnavailable(orgs.members(orgId))).filter((m) => m.kind === "user").map((m) => m.id)
      const now = yield* presence.online(people)
      return new PresenceList({ online: people.filter((id) => now.has(id)).map((id) => UserId.make(id)) })
    })

    /** Admins add people by e-mail; only owners add owners. */
    const addMember = Effect.fn("Orgs.addMember")(
      function*(caller: Caller, orgId: OrgId, input: { email: string; role?: Role | undefined }) {
        const a = yield* access.orgRole(caller, orgId, "admin", "adding members")
        const role = input.role ?? "member"
        if (role === "owner" && a.role !== "owner") {
          return yield* new Forbidden({ message: "only an owner can add another owner" })
        }
        yield* limits.write(caller, orgId)
        yield* requireEmailDomain(orgs, orgId, input.email)
        const user = yield* orUnavailable(accounts.findByEmail(input.email))
        if (Option.isNone(user)) {
          return yield* new NotFound({
            resource: "user",
            message: `no account uses ${input.email}; invite them instead (POST /v1/orgs/${orgId}/invitations)`
          })
        }
        return yield* orUnavailable(orgs.addMember(orgId, user.value, role))
      },
      Effect.scoped
    )

    /** Admins change roles; only owners grant or change the owner role (checked with the row locked). */
    const changeRole = Effect.fn("Orgs.changeRole")(
      function*(caller: Caller, orgId: OrgId, userId: UserId, role: Role) {
        const a = yield* access.orgRole(caller, orgId, "admin", "changing roles")
        yield* limits.write(caller, orgId)
        return yield* orUnavailable(orgs.changeRole(orgId, a.role, userId, role))
      },
      Effect.scoped
    )

    /** Admins remove people; anyone may leave. */
    const removeMember = Effect.fn("Orgs.removeMember")(function*(caller: Caller, orgId: OrgId, userId: UserId) {
      const a = yield* access.org(caller, orgId)
      if (userId !== a.user.id && !roleAtLeast(a.role, "admin")) {
        return yield* new Forbidden({ message: "removing members needs the admin role or higher" })
      }
      yield* limits.write(caller, orgId)
      yield* orUnavailable(orgs.removeMember(orgId, a.role, a.user.id, userId))
    }, Effect.scoped)

    /** Admins (people, not keys) create keys with a role up to their own. */
    const createApiKey = Effect.fn("Orgs.createApiKey")(
      function*(caller: Caller, orgId: OrgId, input: { name: string; role?: Role | undefined }) {
        const a = yield* access.orgRole(caller, orgId, "admin", "creating API keys")
        if (caller.apiKey !== null) return yield* new Forbidden({ message: "API keys cannot create API keys" })
        const role = input.role ?? "member"
        if (!roleAtLeast(a.role, role)) {
          return yield* new InvalidInput({
            message: `a key cannot have more power (${role}) than its creator (${a.role})`
          })
        }
        yield* limits.write(caller, orgId)
        const bot = yield* orUnavailable(accounts.createBot(input.name))
        return new CreatedApiKey(yield* orUnavailable(orgs.createApiKey(orgId, bot, a.user.id, input.name, role)))
      },
      Effect.scoped
    )

    const apiKeys = Effect.fn("Orgs.apiKeys")(function*(caller: Caller, orgId: OrgId) {
      yield* access.orgRole(caller, orgId, "admin", "listing API keys")
      return yield* orUnavailable(orgs.listApiKeys(orgId))
    })

    const revokeApiKey = Effect.fn("Orgs.revokeApiKey")(function*(caller: Caller, orgId: OrgId, keyId: ApiKeyId) {
      yield* access.orgRole(caller, orgId, "admin", "revoking API keys")
      yield* orUnavailable(orgs.revokeApiKey(orgId, keyId))
    })

    /** Full-text search over the messages of the rooms the caller can read, with filters and pages. */
    const search = Effect.fn("Orgs.search")(function*(caller: Caller, orgId: OrgId, query: SearchQuery) {
      const a = yield* access.org(caller, orgId)
      const readable = yield* orUnavailable(rooms.readableRoomIds(orgId, a.user.id, a.guest))
      // A room the caller cannot read is 404, as everywhere else.
      if (query.roomId !== undefined && !readable.includes(query.roomId)) {
        return yield* NotFound.of("room", query.roomId)
      }
      return yield* orUnavailable(messages.search(orgId, a.user.id, readable, query))
    })

    return {
      create,
      update,
      remove,
      list,
      get,
      members,
      online,
      addMember,
      changeRole,
      removeMember,
      createApiKey,
      apiKeys,
      revokeApiKey,
      search
    } as const
  }),
  dependencies: [Access.Default, Limits.Default]
}) {}
