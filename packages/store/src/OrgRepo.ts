/**
 * Orgs, their members and API keys. Everything here except the listing of a
 * person's own orgs runs under the org's row-level security scope.
 */
import { SqlClient } from "@effect/sql"
import { Conflict, Forbidden, NotFound } from "@troupe/domain/Errors"
import {
  AccessRevoked,
  Audience,
  MemberLeft,
  OrgMemberJoined,
  OrgMemberLeft,
  OrgMemberUpdated
} from "@troupe/domain/Event"
import { ApiKeyId, OrgId, UserId } from "@troupe/domain/Ids"
import { ApiKey, Member, Org, type Role, roleAtLeast } from "@troupe/domain/Org"
import type { User } from "@troupe/domain/User"
import { Effect, Option, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { EventLog } from "./EventLog.js"
import { orgScope } from "./OrgScope.js"
import { hashSecret, newSecret } from "./Secrets.js"

interface OrgRow {
  readonly id: string
  readonly name: string
  readonly slug: string
  readonly role: Role
  readonly createdAt: Date
}

interface MemberRow {
  readonly userId: string
  readonly name: string
  readonly handle: string
  readonly role: Role
  readonly joinedAt: Date
}

const decodeOrgId = Schema.decodeSync(OrgId)
const decodeUserId = Schema.decodeSync(UserId)
const decodeKeyId = Schema.decodeSync(ApiKeyId)

const toOrg = (row: OrgRow) =>
  new Org({ id: decodeOrgId(row.id), name: row.name, slug: row.slug, role: row.role, createdAt: row.createdAt })

const toMember = (row: MemberRow) =>
  new Member({
    kind: "user",
    id: row.userId,
    name: row.name,
    handle: row.handle,
    role: row.role,
    joinedAt: row.joinedAt
  })

/** Events about one person in the org: seen by every member but guests, and by the person. */
const aboutMember = (userId: string) => new Audience({ roomId: null, orgWide: true, userIds: [decodeUserId(userId)] })

/** Events for one person only. */
const toPerson = (userId: string) => new Audience({ roomId: null, orgWide: false, userIds: [decodeUserId(userId)] })

/** Roles by power, for comparing roles in SQL (`array_position` gives 1 for guest … 4 for owner). */
const ROLES_BY_POWER = ["guest", "member", "admin", "owner"]

/** Orgs and membership. */
export class OrgRepo extends Effect.Service<OrgRepo>()("@troupe/store/OrgRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog

    /** Loads one person's membership row. */
    const memberRow = (orgId: OrgId, userId: string) =>
      Effect.map(
        sql<MemberRow>`
          SELECT m.user_id, u.name, u.handle, m.role, m.joined_at
          FROM org_members m JOIN users u ON u.id = m.user_id
          WHERE m.org_id = ${orgId} AND m.user_id = ${userId}`,
        (rows) => Option.fromNullable(rows[0])
      )

    const create = Effect.fn("OrgRepo.create")(function*(owner: User, input: { name: string; slug: string }) {
      // The id is chosen first: the new row must belong to the org the transaction is bound to.
      const orgId = decodeOrgId(randomUUID())
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const rows = yield* sql<Omit<OrgRow, "role">>`
          INSERT INTO orgs (id, name, slug) VALUES (${orgId}, ${input.name}, ${input.slug})
          ON CONFLICT (slug) DO NOTHING RETURNING id, name, slug, created_at`
        if (rows.length === 0) return yield* new Conflict({ message: `the slug "${input.slug}" is taken` })
        const org = rows[0]!
        yield* Effect.gen(function*() {
          const joined = yield* sql<{ joinedAt: Date }>`
            INSERT INTO org_members (org_id, user_id, role) VALUES (${org.id}, ${owner.id}, 'owner') RETURNING joined_at`
          const member = toMember({
            userId: owner.id,
            name: owner.name,
            handle: owner.handle,
            role: "owner",
            joinedAt: joined[0]!.joinedAt
          })
          yield* log.append(orgId, [{ audience: aboutMember(owner.id), event: new OrgMemberJoined({ member }) }])
        })
        return toOrg({ ...org, role: "owner" })
      }))
    })

    /** Orgs the user belongs to (a cross-org read of the user's own memberships). */
    const listFor = Effect.fn("OrgRepo.listFor")(function*(userId: UserId) {
      const rows = yield* sql<OrgRow>`SELECT * FROM troupe_orgs_of(${userId})`
      return rows.map(toOrg)
    })

    /** The user's memberships: org id and role, for access checks and event filtering. */
    const membershipsOf = Effect.fn("OrgRepo.membershipsOf")(function*(userId: string) {
      return yield* sql<{ orgId: string; role: Role }>`SELECT * FROM troupe_memberships(${userId})`
    })

    const roleOf = Effect.fn("OrgRepo.roleOf")(function*(orgId: OrgId, userId: UserId) {
      const rows = yield* withOrg(orgId)(
        sql<{ role: Role }>`SELECT role FROM org_members WHERE org_id = ${orgId} AND user_id = ${userId}`
      )
      return Option.map(Option.fromNullable(rows[0]), (r) => r.role)
    })

    /** The org's allowed models; null when the org sets no restriction. */
    const allowedModels = Effect.fn("OrgRepo.allowedModels")(function*(orgId: OrgId) {
      const rows = yield* withOrg(orgId)(sql<{ allowedModels: ReadonlyArray<string> | null }>`
        SELECT allowed_models FROM orgs WHERE id = ${orgId}`)
      if (rows.length === 0) return yield* NotFound.of("org", orgId)
      return rows[0]!.allowedModels
    })

    /** Sets the org's allowed models (null lifts the restriction); returns the stored list. */
    const setAllowedModels = Effect.fn("OrgRepo.setAllowedModels")(
      function*(orgId: OrgId, models: ReadonlyArray<string> | null) {
        const rows = yield* withOrg(orgId)(sql<{ allowedModels: ReadonlyArray<string> | null }>`
          UPDATE orgs SET allowed_models = ${models === null ? null : [...new Set(models)]}::text[]
          WHERE id = ${orgId} RETURNING allowed_models`)
        if (rows.length === 0) return yield* NotFound.of("org", orgId)
        return rows[0]!.allowedModels
      }
    )

    const get = Effect.fn("OrgRepo.get")(function*(orgId: OrgId, role: Role) {
      const rows = yield* withOrg(orgId)(
        sql<Omit<OrgRow, "role">>`SELECT id, name, slug, created_at FROM orgs WHERE id = ${orgId}`
      )
      if (rows.length === 0) return yield* NotFound.of("org", orgId)
      return toOrg({ ...rows[0]!, role })
    })

    /** People, then active teammates (members with the `member` role). */
    const members = Effect.fn("OrgRepo.members")(function*(orgId: OrgId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const people = yield* sql<MemberRow>`
          SELECT m.user_id, u.name, u.handle, m.role, m.joined_at
          FROM org_members m JOIN users u ON u.id = m.user_id
          WHERE m.org_id = ${orgId} ORDER BY m.joined_at, u.handle`
        const teammates = yield* sql<{ id: string; name: string; handle: string; createdAt: Date }>`
          SELECT id, name, handle, created_at FROM teammates
          WHERE org_id = ${orgId} AND dismissed_at IS NULL ORDER BY created_at, handle`
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
        const rows = yield* sql<{ joinedAt: Date }>`
          INSERT INTO org_members (org_id, user_id, role) VALUES (${orgId}, ${user.id}, ${role})
          ON CONFLICT DO NOTHING RETURNING joined_at`
        if (rows.length === 0) return yield* new Conflict({ message: `${user.email} is already a member` })
        const member = toMember({
          userId: user.id,
          name: user.name,
          handle: user.handle,
          role,
          joinedAt: rows[0]!.joinedAt
        })
        yield* log.append(orgId, [{ audience: aboutMember(user.id), event: new OrgMemberJoined({ member }) }])
        return member
      }))
    })

    const ownerCount = (orgId: OrgId) =>
      Effect.map(
        sql<{ n: number }>`SELECT count(*)::int AS n FROM org_members WHERE org_id = ${orgId} AND role = 'owner'`,
        (rows) => rows[0]!.n
      )

    const changeRole = Effect.fn("OrgRepo.changeRole")(
      function*(orgId: OrgId, actorRole: Role, userId: UserId, role: Role) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const rows = yield* sql<MemberRow>`
            SELECT m.user_id, u.name, u.handle, m.role, m.joined_at
            FROM org_members m JOIN users u ON u.id = m.user_id
            WHERE m.org_id = ${orgId} AND m.user_id = ${userId} FOR UPDATE OF m`
          const current = rows[0]
          if (!current) return yield* NotFound.of("member", userId)
          if ((current.role === "owner" || role === "owner") && actorRole !== "owner") {
            return yield* new Forbidden({ message: "only an owner can grant or change the owner role" })
          }
          if (current.role === "owner" && role !== "owner" && (yield* ownerCount(orgId)) <= 1) {
            return yield* new Conflict({ message: "an org must keep at least one owner" })
          }
          yield* sql`UPDATE org_members SET role = ${role} WHERE org_id = ${orgId} AND user_id = ${userId}`
          const member = toMember({ ...current, role })
          // A key never has more power than its creator has now.
          const capped = yield* sql<{ userId: string }>`
            UPDATE api_keys SET role = ${role}
            WHERE org_id = ${orgId} AND created_by = ${userId} AND revoked_at IS NULL
              AND array_position(${ROLES_BY_POWER}::text[], role) > array_position(${ROLES_BY_POWER}::text[], ${role}::text)
            RETURNING user_id`
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
          const rows = yield* sql<{ role: Role }>`
          SELECT role FROM org_members WHERE org_id = ${orgId} AND user_id = ${userId} FOR UPDATE`
          const current = rows[0]
          if (!current) return yield* NotFound.of("member", userId)
          if (current.role === "owner" && actorRole !== "owner") {
            return yield* new Forbidden({ message: "only an owner can remove an owner" })
          }
          if (current.role === "owner" && (yield* ownerCount(orgId)) <= 1) {
            return yield* new Conflict({ message: "an org must keep at least one owner" })
          }
          const rooms = yield* sql<{ roomId: string }>`
          DELETE FROM room_members WHERE org_id = ${orgId} AND member_kind = 'user' AND member_id = ${userId}
          RETURNING room_id`
          yield* sql`DELETE FROM org_members WHERE org_id = ${orgId} AND user_id = ${userId}`
          const keys = yield* sql<{ id: string; userId: string }>`
          UPDATE api_keys SET revoked_at = now()
          WHERE org_id = ${orgId} AND (user_id = ${userId} OR created_by = ${userId}) AND revoked_at IS NULL
          RETURNING id, user_id`
          yield* log.append(orgId, [
            ...rooms.map((r) => ({
              audience: new Audience({ roomId: r.roomId as never, orgWide: false, userIds: [userId] }),
              event: new MemberLeft({ roomId: r.roomId as never, memberId: userId })
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
        const rows = yield* withOrg(orgId)(Effect.gen(function*() {
          const joined = yield* sql<{ joinedAt: Date }>`
            INSERT INTO org_members (org_id, user_id, role) VALUES (${orgId}, ${bot.id}, ${role}) RETURNING joined_at`
          const inserted = yield* sql<{ id: string; createdAt: Date }>`
            INSERT INTO api_keys (org_id, user_id, name, role, prefix, secret_hash, created_by)
            VALUES (${orgId}, ${bot.id}, ${name}, ${role}, ${secret.slice(0, 12)}, ${hashSecret(secret)}, ${createdBy})
            RETURNING id, created_at`
          const member = toMember({
            userId: bot.id,
            name: bot.name,
            handle: bot.handle,
            role,
            joinedAt: joined[0]!.joinedAt
          })
          yield* log.append(orgId, [{ audience: aboutMember(bot.id), event: new OrgMemberJoined({ member }) }])
          return inserted
        }))
        const key = new ApiKey({
          id: decodeKeyId(rows[0]!.id),
          name,
          role,
          prefix: secret.slice(0, 12),
          createdBy,
          createdAt: rows[0]!.createdAt
        })
        return { key, secret }
      }
    )

    const listApiKeys = Effect.fn("OrgRepo.listApiKeys")(function*(orgId: OrgId) {
      const rows = yield* withOrg(orgId)(sql<{
        id: string
        name: string
        role: Role
        prefix: string
        createdBy: string
        createdAt: Date
      }>`SELECT id, name, role, prefix, created_by, created_at FROM api_keys
         WHERE org_id = ${orgId} AND revoked_at IS NULL ORDER BY created_at`)
      return rows.map((r) => new ApiKey({ ...r, id: decodeKeyId(r.id), createdBy: decodeUserId(r.createdBy) }))
    })

    const revokeApiKey = Effect.fn("OrgRepo.revokeApiKey")(function*(orgId: OrgId, keyId: ApiKeyId) {
      yield* withOrg(orgId)(Effect.gen(function*() {
        const rows = yield* sql<{ userId: string }>`
          UPDATE api_keys SET revoked_at = now() WHERE org_id = ${orgId} AND id = ${keyId} AND revoked_at IS NULL
          RETURNING user_id`
        if (rows.length === 0) return yield* NotFound.of("API key", keyId)
        yield* log.append(orgId, [{
          audience: toPerson(rows[0]!.userId),
          event: new AccessRevoked({ credential: "api_key", credentialId: keyId, reason: "the API key was revoked" })
        }])
      }))
    })

    return {
      create,
      listFor,
      membershipsOf,
      roleOf,
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
  dependencies: [EventLog.Default]
}) {}

/** Fails with Forbidden unless `role` is at least `needed`. */
export const requireRole = (role: Role, needed: Role, action: string) =>
  roleAtLeast(role, needed)
    ? Effect.void
    : Effect.fail(new Forbidden({ message: `${action} needs the ${needed} role or higher; you are ${role}` }))
