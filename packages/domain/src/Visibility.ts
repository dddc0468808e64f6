/**
 * Who may see an event: the one rule every delivery goes through, on the
 * live feed, on replay and for ephemeral events alike.
 */
import type { Audience, Event } from "./Event.js"
import type { OrgId, UserId } from "./Ids.js"
import type { Role } from "./Org.js"

/** What a reader may see, as of some position in the event log. */
export interface Viewer {
  readonly userId: UserId
  /** The reader's role in each org they belong to. */
  readonly orgs: ReadonlyMap<string, Role>
  /** The rooms the reader has joined, in every org. */
  readonly rooms: ReadonlySet<string>
}

/**
 * Whether `viewer` may see an event of `orgId` addressed to `audience`:
 * - an event naming the reader in `userIds` is about them (their own removal
 *   included), so they see it;
 * - otherwise only members of the org see it: every member but guests when it
 *   is org-wide, the room's members when it belongs to a room.
 */
export const sees = (viewer: Viewer, orgId: OrgId | null, audience: Audience): boolean => {
  if (audience.userIds.includes(viewer.userId)) return true
  if (orgId === null) return false
  const role = viewer.orgs.get(orgId)
  if (role === undefined) return false
  if (audience.orgWide && role !== "guest") return true
  return audience.roomId !== null && viewer.rooms.has(audience.roomId)
}

/**
 * Where a reader can be reached, for a node that routes each event only to
 * the readers it may concern: the reader themself, each org where they see
 * org-wide events (not as a guest), and each room they have joined. Kept
 * beside `sees`, which stays the rule: routing only narrows who is asked.
 */
export const addressesOf = (viewer: Viewer): Array<string> => {
  const out = [`user:${viewer.userId}`]
  for (const [orgId, role] of viewer.orgs) if (role !== "guest") out.push(`org:${orgId}`)
  for (const roomId of viewer.rooms) out.push(`room:${roomId}`)
  return out
}

/**
 * Where an event of `orgId` addressed to `audience` is routed: every reader
 * that `sees` it has one of these addresses in `addressesOf`.
 */
export const addressesFor = (orgId: OrgId | null, audience: Audience): Array<string> => {
  const out = audience.userIds.map((u) => `user:${u}`)
  if (orgId === null) return out
  if (audience.orgWide) out.push(`org:${orgId}`)
  if (audience.roomId !== null) out.push(`room:${audience.roomId}`)
  return out
}

/**
 * Events that change what the people in their `userIds` may see: joining or
 * leaving an org or a room, a new role, a new room, an org deleted. A reader's `Viewer` is
 * reloaded when one of these names them.
 */
export const changesAccess = (event: Event): boolean => {
  switch (event.type) {
    case "org.member.joined":
    case "org.member.updated":
    case "org.member.left":
    case "org.deleted":
    case "member.joined":
    case "member.left":
    case "room.created":
      return true
    default:
      return false
  }
}
