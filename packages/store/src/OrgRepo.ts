/**
 * Orgs, their members and API keys. Everything here except the listing of a
 * person's own orgs runs under the org's row-level security scope.
 */
import { SqlClient } from "@effect/sql"
import { Conflict, Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import {
  AccessRevoked,
  Audience,
  MemberLeft,
  OrgDeleted,
  OrgMemberJoined,
  OrgMemberLeft,
  OrgMemberUpdated,
  OrgUpdated
} from "@troupe/domain/Event"
import { ApiKeyId, OrgId, RoomId, UserId } from "@troupe/domain/Ids"
import { ApiKey, Member, Org, Role } from "@troupe/domain/Org"
import { avatarPath, type User } from "@troupe/domain/User"
import { Effect, Option, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { EventLog } from "./EventLog.js"
import { guestsBeside as guestsBesideIn, guestsOf } from "./internal/Guests.js"
import * as Rows from "./internal/Rows.js"
import { orgScope } from "./OrgScope.js"
import { RoomRepo } from "./RoomRepo.js"
import { hashSecret, newSecret } from "./Secrets.js"

const OrgRow = Schema.Struct({
  id: OrgId,
  name: Schema.String,
  slug: Schema.String,
  role: Role,
  createdAt: Schema.DateFromSelf,
  allowedEmailDomains: Schema.Array(Schema.String)
})
const OrgOnlyRow = OrgRow.omit("role")
const MemberRow = Schema.Struct({
  userId: UserId,
  name: Schema.String,
  handle: Schema.String,
  role: Role,
  joinedAt: Schema.DateFromSelf,
  avatarSha: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
})
const TeammateMemberRow = Schema.Struct({
  id: Schema.UUID,
  name: Schema.String,
  handle: Schema.String,
  createdAt: Schema.DateFromSelf
})
const ApiKeyRow = Schema.Struct({
  id: ApiKeyId,
  name: Schema.String,
  role: Role,
  prefix: Schema.String,
  createdBy: UserId,
  createdAt: Schema.DateFromSelf
})
const Joined = Schema.Struct({ joinedAt: Schema.DateFromSelf })
const RoleRow = Schema.Struct({ role: Role })
const ModelsRow = Schema.Struct({ allowedModels: Schema.NullOr(Schema.Array(Schema.String)) })
const Count = Schema.Struct({ n: Schema.Number })
const KeyHolder = Schema.Struct({ id: ApiKeyId, userId: UserId })
const RoomRef = Schema.Struct({ roomId: RoomId })
const DefaultRoom = Schema.Struct({ id: RoomId })

const toOrg = (row: typeof OrgRow.Type) => new Org(row)

const toMember = (row: Omit<typeof MemberRow.Type, "avatarSha"> & { readonly avatarSha?: string | null }) =>
  new Member({
    kind: "user",
    id: row.userId,
    name: row.name,
    handle: row.handle,
    role: row.role,
    joinedAt: row.joinedAt,
    avatar: avatarPath(row.userId, row.avatarSha ?? null)
  })

/** Events about one person in the org: seen by every member but guests, and by the person. */
const aboutMember = (userId: UserId) => new Audience({ roomId: null, orgWide: true, userIds: [userId] })

/** Events for one person only. */
const toPerson = (userId: UserId) => new Audience({ roomId: null, orgWide: false, userIds: [userId] })

/** Roles by power, for comparing roles in SQL (`array_position` gives 1 for guest … 4 for owner). */
const ROLES_BY_POWER = ["guest", "member", "admin", "owner"]

/** Orgs and membership. */
export class OrgRepo extends Effect.Service<OrgRepo>()("@troupe/store/OrgRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog
    const rooms = yield* RoomRepo

    /** One person's membership (the row locked when `lock`). */
    const memberRow = (orgId: OrgId, userId: string, lock = false) =>
      Rows.first("member", MemberRow)(sql`
        SELECT m.user_id, u.name, u.handle, m.role, m.joined_at
        FROM org_members m JOIN users u ON u.id = m.user_id
        WHERE m.org_id = ${orgId} AND m.user_id = ${userId} ${lock ? sql`FOR UPDATE OF m` : sql``}`)

    const create = Effect.fn("OrgRepo.create")(function*(owner: User, input: { name: string; slug: string }) {
      // The id is chosen first: the new row must belong to the org the transaction is bound to.
      const orgId = OrgId.make(randomUUID())
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const created = yield* Rows.first("org", OrgOnlyRow)(sql`
          INSERT INTO orgs (id, name, slug) VALUES (${orgId}, ${input.name}, ${input.slug})
          ON CONFLICT (slug) DO NOTHING RETURNING id, name, slug, created_at, allowed_email_domains`)
        if (Option.isNone(created)) return yield* new Conflict({ message: `the slug "${input.slug}" is taken` })
        const { joinedAt } = yield* Rows.one("member", Joined)(sql`
          INSERT INTO org_members (org_id, user_id, role) VALUES (${orgId}, ${owner.id}, 'owner') RETURNING joined_at`)
        const member = toMember({ userId: owner.id, name: owner.name, handle: owner.handle, role: "owner", joinedAt })
        yield* log.append(orgId, [{ audience: aboutMember(owner.id), event: new OrgMemberJoined({ member }) }])
        // The org's default room, in the same transaction: everyone who joins as a member joins it too.
        const general = yield* rooms.create(orgId, owner, {
          name: "general",
          kind: "public",
          topic: `Everyone in ${input.name}`
        })
        yield* sql`UPDATE orgs SET default_room_id = ${general.id} WHERE id = ${orgId}`
        return toOrg({ ...created.value, role: "owner" })
      }))
    })

    /** Orgs the user belongs to (a cross-org read of the user's own memberships). */
    const listFor = Effect.fn("OrgRepo.listFor")(function*(userId: UserId) {
      const rows = yield* Rows.all("org", OrgRow)(sql`SELECT * FROM troupe_orgs_of(${userId})`)
      return rows.map(toOrg)
    })

    /** The user's memberships: org id and role, for access checks and event filtering. */
    const membershipsOf = Effect.fn("OrgRepo.membershipsOf")(function*(userId: string) {
      return yield* Rows.all("membership", Schema.Struct({ orgId: OrgId, role: Role }))(
        sql`SELECT * FROM troupe_memberships(${userId})`
      )
    })

    const roleOf = Effect.fn("OrgRepo.roleOf")(function*(orgId: OrgId, userId: UserId) {
      const row = yield* withOrg(orgId)(
        Rows.first("member", RoleRow)(sql`SELECT role FROM org_members WHERE org_id = ${orgId} AND user_id = ${userId}`)
      )
      return Option.map(row, (r) => r.role)
    })

    /** The org's guests who share a room with `userId`: who hears of them besides the org's members. */
    const guestsBeside = Effect.fn("OrgRepo.guestsBeside")(function*(orgId: OrgId, userId: UserId) {
      return yield* withOrg(orgId)(guestsBesideIn(sql, orgId, userId))
    })

    /** The org's allowed models; null when the org sets no restriction. */
    const allowedModels = Effect.fn("OrgRepo.allowedModels")(function*(orgId: OrgId) {
      const row = yield* withOrg(orgId)(
        Rows.first("org", ModelsRow)(sql`SELECT allowed_models FROM orgs WHERE id = ${orgId}`)
      )
      if (Option.isNone(row)) return yield* NotFound.of("org", orgId)
      return row.value.allowedModels
    })

    /** Sets the org's allowed models (null lifts the restriction); returns the stored list. */
    const setAllowedModels = Effect.fn("OrgRepo.setAllowedModels")(
      function*(orgId: OrgId, models: ReadonlyArray<string> | null) {
        const row = yield* withOrg(orgId)(
          Rows.first("org", ModelsRow)(sql`
          UPDATE orgs SET allowed_models = ${models === null ? null : [...new Set(models)]}::text[]
          WHERE id = ${orgId} RETURNING allowed_models`)
        )
        if (Option.isNone(row)) return yield* NotFound.of("org", orgId)
        return row.value.allowedModels
      }
    )

    /**
     * Renames the org (every member hears of it, `org.updated`, guests too)
     * and sets its e-mail domains; what `patch` leaves out stays.
     */
    const update = Effect.fn("OrgRepo.update")(
      function*(
        orgId: OrgId,
        patch: { readonly name?: string | undefined; readonly allowedEmailDomains?: ReadonlyArray<string> | undefined },
        role: Role
      ) {
        const { allowedEmailDomains, name } = patch
        const domains = allowedEmailDomains === undefined ? null : [...new Set(allowedEmailDomains)]
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const row = yield* Rows.first("org", OrgOnlyRow)(sql`
            UPDATE orgs SET name = coalesce(${name ?? null}, name),
              allowed_email_domains = coalesce(${domains}::text[], allowed_email_domains)
            WHERE id = ${orgId} RETURNING id, name, slug, created_at, allowed_email_domains`)
          if (Option.isNone(row)) return yield* NotFound.of("org", orgId)
          if (name !== undefined) {
            yield* log.append(orgId, [{
              audience: new Audience({ roomId: null, orgWide: true, userIds: yield* guestsOf(sql, orgId) }),
              event: new OrgUpdated({ orgId, name })
            }])
          }
          return toOrg({ ...row.value, role })
        }))
      }
    )

    /** The org's e-mail domains (empty: any address). */
    const emailDomains = Effect.fn("OrgRepo.emailDomains")(function*(orgId: OrgId) {
      const row = yield* withOrg(orgId)(
        Rows.first("org", Schema.Struct({ allowedEmailDomains: Schema.Array(Schema.String) }))(
          sql`SELECT allowed_email_domains FROM orgs WHERE id = ${orgId}`
        )
      )
      if (Option.isNone(row)) return yield* NotFound.of("org", orgId)
      return row.value.allowedEmailDomains
    })

    const get = Effect.fn("OrgRepo.get")(function*(orgId: OrgId, role: Role) {
      const row = yield* withOrg(orgId)(
        Rows.first("org", OrgOnlyRow)(
          sql`SELECT id, name, slug, created_at, allowed_email_domains FROM orgs WHERE id = ${orgId}`
        )
      )
      if (Option.isNone(row)) return yield* NotFound.of("org", orgId)
      return toOrg({ ...row.value, role })
    })

    /** People, then active teammates (members with the `member` role). */
    const members = Effect.fn("OrgRepo.members")(function*(orgId: OrgId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const people = yield* Rows.all("member", MemberRow)(sql`
          SELECT m.user_id, u.name, u.handle, m.role, m.joined_at, u.avatar_sha
          FROM org_members m JOIN users u ON u.id = m.user_id
          WHERE m.org_id = ${orgId} ORDER BY m.joined_at, u.handle`)
        const teammates = yield* Rows.all("teammate", TeammateMemberRow)(sql`
          SELECT id, name, handle, created_at FROM teammates
          WHERE org_id = ${orgId} AND dismissed_at IS NULL ORDER BY created_at, handle`)
        return [
          ...people.map(toMember),
          ...teammates.map((t) =>
            new Member({
              kind: "teammate",
              id: t.id,
              name: t.name,
              handle: t.handle,
              role: "member",
              joinedAt: t.createdAt
            })
          )
        ]
      }))
    })

    const addMember = Effect.fn("OrgRepo.addMember")(function*(orgId: OrgId, user: User, role: Role) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const joined = yield* Rows.first("member", Joined)(sql`
          INSERT INTO org_members (org_id, user_id, role) VALUES (${orgId}, ${user.id}, ${role})
          ON CONFLICT DO NOTHING RETURNING joined_at`)
        if (Option.isNone(joined)) return yield* new Conflict({ message: `${user.email} is already a member` })
        const member = toMember({ userId: user.id, name: user.name, handle: user.handle, role, ...joined.value })
        yield* log.append(orgId, [{ audience: aboutMember(user.id), event: new OrgMemberJoined({ member }) }])
        if (role !== "guest") {
          // Members join the default room (unless it was archived); guests only the rooms they are added to.
          const general = yield* Rows.first("default room", DefaultRoom)(sql`
            SELECT r.id FROM orgs o JOIN rooms r ON r.id = o.default_room_id
            WHERE o.id = ${orgId} AND r.archived_at IS NULL`)
          if (Option.isSome(general)) yield* rooms.addMember(orgId, general.value.id, user.id)
        }
        return member
      }))
    })

    const ownerCount = (orgId: OrgId) =>
      Effect.map(
        Rows.one("count", Count)(
          sql`SELECT count(*)::int AS n FROM org_members WHERE org_id = ${orgId} AND role = 'owner'`
        ),
        (row) => row.n
      )

    const changeRole = Effect.fn("OrgRepo.changeRole")(
      function*(orgId: OrgId, actorRole: Role, userId: UserId, role: Role) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const locked = yield* memberRow(orgId, userId, true)
          if (Option.isNone(locked)) return yield* NotFound.of("member", userId)
          const current = locked.value
          if ((current.role === "owner" || role === "owner") && actorRole !== "owner") {
            return yield* new Forbidden({ message: "only an owner can grant or change the owner role" })
          }
          if (current.role === "owner" && role !== "owner" && (yield* ownerCount(orgId)) <= 1) {
            return yield* new Conflict({ message: "an org must keep at least one owner" })
          }
          yield* sql`UPDATE org_members SET role = ${role} WHERE org_id = ${orgId} AND user_id = ${userId}`
          const member = toMember({ ...current, role })
          // A key never has more power than its creator has now.
          const capped = yield* Rows.all("API key", KeyHolder.pick("userId"))(sql`
            UPDATE api_keys SET role = ${role}
            WHERE org_id = ${orgId} AND created_by = ${userId} AND revoked_at IS NULL
              AND array_position(${ROLES_BY_POWER}::text[], role) > array_position(${ROLES_BY_POWER}::text[], ${role}::text)
            RETURNING user_id`)
          const bots = capped.map((k) => k.userId)
          if (bots.length > 0) {
            yield* sql`UPDATE org_members SET role = ${role} WHERE org_id = ${orgId} AND user_id = ANY(${bots}::uuid[])`
          }
          const botMembers = yield* Effect.forEach(bots, (bot) => memberRow(orgId, bot))
          yield* log.append(orgId, [
            { audience: aboutMember(userId), event: new OrgMemberUpdated({ member }) },
            ...botMembers.flatMap((row) =>
              Option.isSome(row)
                ? [{
                  audience: aboutMember(row.value.userId),
                  event: new OrgMemberUpdated({ member: toMember(row.value) })
                }]
                : []
            )
          ])
          return member
        }))
      }
    )

    /**
     * Removes a person from the org and from its rooms, and revokes the API
     * keys they hold or created; the events end their access on every stream.
     */
    const removeMember = Effect.fn("OrgRepo.removeMember")(
      function*(orgId: OrgId, actorRole: Role, actorId: UserId, userId: UserId) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const locked = yield* Rows.first("member", RoleRow)(sql`
            SELECT role FROM org_members WHERE org_id = ${orgId} AND user_id = ${userId} FOR UPDATE`)
          if (Option.isNone(locked)) return yield* NotFound.of("member", userId)
          const current = locked.value
          if (current.role === "owner" && actorRole !== "owner") {
            return yield* new Forbidden({ message: "only an owner can remove an owner" })
          }
          if (current.role === "owner" && (yield* ownerCount(orgId)) <= 1) {
            return yield* new Conflict({ message: "an org must keep at least one owner" })
          }
          const rooms = yield* Rows.all("room member", RoomRef)(sql`
            DELETE FROM room_members WHERE org_id = ${orgId} AND member_kind = 'user' AND member_id = ${userId}
            RETURNING room_id`)
          yield* sql`DELETE FROM org_members WHERE org_id = ${orgId} AND user_id = ${userId}`
          const keys = yield* Rows.all("API key", KeyHolder)(sql`
            UPDATE api_keys SET revoked_at = now()
            WHERE org_id = ${orgId} AND (user_id = ${userId} OR created_by = ${userId}) AND revoked_at IS NULL
            RETURNING id, user_id`)
          yield* log.append(orgId, [
            ...rooms.map((r) => ({
              audience: new Audience({ roomId: r.roomId, orgWide: false, userIds: [userId] }),
              event: new MemberLeft({ roomId: r.roomId, memberId: userId })
            })),
            ...keys.map((k) => ({
              audience: toPerson(k.userId),
              event: new AccessRevoked({
                credential: "api_key",
                credentialId: k.id,
                reason: "the key's creator left the org"
              })
            })),
            {
              audience: aboutMember(userId),
              event: new OrgMemberLeft({ userId, reason: userId === actorId ? "left" : "removed" })
            }
          ])
        }))
      }
    )

    const createApiKey = Effect.fn("OrgRepo.createApiKey")(
      function*(orgId: OrgId, bot: User, createdBy: UserId, name: string, role: Role) {
        const secret = newSecret("trp_k_")
        const key = yield* withOrg(orgId)(Effect.gen(function*() {
          const { joinedAt } = yield* Rows.one("member", Joined)(sql`
            INSERT INTO org_members (org_id, user_id, role) VALUES (${orgId}, ${bot.id}, ${role}) RETURNING joined_at`)
          const inserted = yield* Rows.one("API key", ApiKeyRow)(sql`
            INSERT INTO api_keys (org_id, user_id, name, role, prefix, secret_hash, created_by)
            VALUES (${orgId}, ${bot.id}, ${name}, ${role}, ${secret.slice(0, 12)}, ${hashSecret(secret)}, ${createdBy})
            RETURNING id, name, role, prefix, created_by, created_at`)
          const member = toMember({ userId: bot.id, name: bot.name, handle: bot.handle, role, joinedAt })
          yield* log.append(orgId, [{ audience: aboutMember(bot.id), event: new OrgMemberJoined({ member }) }])
          return new ApiKey(inserted)
        }))
        return { key, secret }
      }
    )

    const listApiKeys = Effect.fn("OrgRepo.listApiKeys")(function*(orgId: OrgId) {
      const rows = yield* withOrg(orgId)(
        Rows.all("API key", ApiKeyRow)(sql`
        SELECT id, name, role, prefix, created_by, created_at FROM api_keys
        WHERE org_id = ${orgId} AND revoked_at IS NULL ORDER BY created_at`)
      )
      return rows.map((r) => new ApiKey(r))
    })

    const revokeApiKey = Effect.fn("OrgRepo.revokeApiKey")(function*(orgId: OrgId, keyId: ApiKeyId) {
      yield* withOrg(orgId)(Effect.gen(function*() {
        const revoked = yield* Rows.first("API key", KeyHolder)(sql`
          UPDATE api_keys SET revoked_at = now() WHERE org_id = ${orgId} AND id = ${keyId} AND revoked_at IS NULL
          RETURNING id, user_id`)
        if (Option.isNone(revoked)) return yield* NotFound.of("API key", keyId)
        yield* log.append(orgId, [{
          audience: toPerson(revoked.value.userId),
          event: new AccessRevoked({ credential: "api_key", credentialId: keyId, reason: "the API key was revoked" })
        }])
      }))
    })

    /**
     * Closes a deleted org, in one transaction: its members, API keys and
     * open invitations go, so nobody reaches it any more, and everyone who
     * was a member gets `org.deleted` (a key's streams `access.revoked`).
     * Its data stays until `purge`. `slug` must be the org's own, the
     * deleter's confirmation.
     */
    const close = Effect.fn("OrgRepo.close")(function*(orgId: OrgId, slug: string) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const org = yield* Rows.first("org", Schema.Struct({ name: Schema.String, slug: Schema.String }))(sql`
          SELECT name, slug FROM orgs WHERE id = ${orgId} AND deleted_at IS NULL FOR UPDATE`)
        if (Option.isNone(org)) return yield* NotFound.of("org", orgId)
        if (org.value.slug !== slug) {
          return yield* new InvalidInput({
            message: `to delete the org, confirm with its slug ("${org.value.slug}"), not "${slug}"`
          })
        }
        const keys = yield* Rows.all("API key", KeyHolder)(sql`
          UPDATE api_keys SET revoked_at = now() WHERE org_id = ${orgId} AND revoked_at IS NULL
          RETURNING id, user_id`)
        const members = yield* Rows.all("member", Schema.Struct({ userId: UserId }))(sql`
          DELETE FROM org_members WHERE org_id = ${orgId} RETURNING user_id`)
        yield* sql`UPDATE invitations SET revoked_at = now()
          WHERE org_id = ${orgId} AND accepted_at IS NULL AND revoked_at IS NULL`
        yield* sql`UPDATE orgs SET deleted_at = now() WHERE id = ${orgId}`
        yield* log.append(orgId, [
          ...keys.map((k) => ({
            audience: toPerson(k.userId),
            event: new AccessRevoked({ credential: "api_key", credentialId: k.id, reason: "the org was deleted" })
          })),
          {
            audience: new Audience({ roomId: null, orgWide: false, userIds: members.map((m) => m.userId) }),
            event: new OrgDeleted({ orgId, name: org.value.name })
          }
        ])
      }))
    })

    /**
     * Removes a closed org's events and rows (everything org-scoped goes
     * with it) and the accounts that existed only for it. Its file bytes
     * must be gone first. Returns whether a closed org was purged.
     */
    const purge = Effect.fn("OrgRepo.purge")(function*(orgId: OrgId) {
      return yield* Rows.one("purge", Schema.Struct({ purged: Schema.Boolean }))(
        sql`SELECT troupe_purge_org(${orgId}) AS purged`
      ).pipe(Effect.map((r) => r.purged))
    })

    /** Closed orgs still to purge, oldest first (the retention sweep finishes a purge cut short). */
    const closedOrgs = Effect.fn("OrgRepo.closedOrgs")(function*(limit: number) {
      return yield* Rows.all("org", Schema.Struct({ orgId: OrgId }))(
        sql`SELECT org_id FROM troupe_closed_orgs(${limit})`
      ).pipe(Effect.map((rows) => rows.map((r) => r.orgId)))
    })

    return {
      create,
      update,
      close,
      purge,
      closedOrgs,
      emailDomains,
      listFor,
      membershipsOf,
      roleOf,
      guestsBeside,
      allowedModels,
      setAllowedModels,
      get,
      members,
      addMember,
      changeRole,
      removeMember,
      createApiKey,
      listApiKeys,
      revokeApiKey
    } as const
  }),
  dependencies: [EventLog.Default, RoomRepo.Default]
}) {}
