/**
 * What a caller may see: their effective role in an org and their access to
 * a room, from current state. An API key acts in its one org with at most
 * its own role. Orgs and rooms a caller may not know of are `NotFound`,
 * exactly like ones that do not exist.
 */
import type { Caller } from "@troupe/domain/Caller"
import { Forbidden, NotFound, type Unavailable } from "@troupe/domain/Errors"
import type { OrgId, RoomId } from "@troupe/domain/Ids"
import { type Role, roleAtLeast } from "@troupe/domain/Org"
import type { RoomInfo } from "@troupe/domain/Room"
import type { User } from "@troupe/domain/User"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Cache, Duration, Effect, Exit, Option } from "effect"
import { orUnavailable } from "./Unavailable.js"

/** A caller's access to an org. */
export interface OrgAccess {
  readonly orgId: OrgId
  readonly role: Role
  readonly user: User
  readonly guest: boolean
}

/** A caller's access to a room. */
export interface RoomAccess extends OrgAccess {
  readonly room: RoomInfo
  readonly isMember: boolean
}

/** The role a caller acts with: an API key never has more than its own role. */
const effectiveRole = (caller: Caller, role: Role): Role =>
  caller.apiKey !== null && !roleAtLeast(caller.apiKey.role, role) ? caller.apiKey.role : role

/** Fails with `Forbidden` unless `role` is at least `needed`. */
export const requireRole = (role: Role, needed: Role, action: string): Effect.Effect<void, Forbidden> =>
  roleAtLeast(role, needed)
    ? Effect.void
    : Effect.fail(new Forbidden({ message: `${action} needs the ${needed} role or higher; you are ${role}` }))

/**
 * Fails with `Forbidden` (saying `message`) unless the caller made the thing
 * (`madeBy`) or is an admin: the rule for archiving a room, cancelling a
 * task, changing a schedule.
 */
export const requireMakerOrAdmin = (a: OrgAccess, madeBy: string, message: string): Effect.Effect<void, Forbidden> =>
  madeBy === a.user.id || roleAtLeast(a.role, "admin") ? Effect.void : Effect.fail(new Forbidden({ message }))

/** Resolves callers' access. */
export class Access extends Effect.Service<Access>()("@troupe/workspace/Access", {
  effect: Effect.gen(function*() {
    const orgs = yield* OrgRepo
    const rooms = yield* RoomRepo

    /** Rooms never move between orgs, so a room's org is cached; failures are not. */
    const roomOrgs = yield* Cache.makeWith({
      capacity: 50_000,
      lookup: (roomId: RoomId) => orUnavailable(rooms.orgOf(roomId)),
      timeToLive: (exit) => Exit.isSuccess(exit) ? Duration.infinity : Duration.zero
    })

    /** The caller's effective role in an org. */
    const org = Effect.fn("Access.org")(function*(caller: Caller, orgId: OrgId) {
      if (caller.apiKey !== null && caller.apiKey.orgId !== orgId) return yield* NotFound.of("org", orgId)
      const role = yield* orUnavailable(orgs.roleOf(orgId, caller.user.id))
      if (Option.isNone(role)) return yield* NotFound.of("org", orgId)
      const effective = effectiveRole(caller, role.value)
      return { orgId, role: effective, user: caller.user, guest: effective === "guest" } satisfies OrgAccess
    })

    /** As `org`, and the role must be at least `needed`. */
    const orgRole = Effect.fn("Access.orgRole")(function*(caller: Caller, orgId: OrgId, needed: Role, action: string) {
      const access = yield* org(caller, orgId)
      yield* requireRole(access.role, needed, action)
      return access
    })

    /** The caller's access to a room: private rooms they are not in, and every room they may not see, are 404. */
    const room = Effect.fn("Access.room")(function*(caller: Caller, roomId: RoomId) {
      const orgId = yield* roomOrgs.get(roomId)
      if (caller.apiKey !== null && caller.apiKey.orgId !== orgId) return yield* NotFound.of("room", roomId)
      const found = yield* orUnavailable(rooms.accessFor(orgId, roomId, caller.user.id))
      if (found.role === null || found.room === null) return yield* NotFound.of("room", roomId)
      const role = effectiveRole(caller, found.role)
      const guest = role === "guest"
      if (!found.joined && (found.room.kind !== "public" || guest)) return yield* NotFound.of("room", roomId)
      return { orgId, role, user: caller.user, guest, room: found.room, isMember: found.joined } satisfies RoomAccess
    })

    /** As `room`, and the caller must be a member. */
    const member = Effect.fn("Access.member")(function*(caller: Caller, roomId: RoomId, action: string) {
      const access = yield* room(caller, roomId)
      if (!access.isMember) return yield* new Forbidden({ message: `join the room to ${action}` })
      return access
    })

    /** As `member`, and not as a guest. */
    const contributor = Effect.fn("Access.contributor")(function*(caller: Caller, roomId: RoomId, action: string) {
      const access = yield* member(caller, roomId, action)
      if (access.guest) return yield* new Forbidden({ message: `guests cannot ${action}` })
      return access
    })

    return { org, orgRole, room, member, contributor } as const
  }),
  dependencies: [OrgRepo.Default, RoomRepo.Default]
}) {}

/** The failures of resolving access. */
export type AccessError = NotFound | Forbidden | Unavailable
