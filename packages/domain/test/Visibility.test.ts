import { describe, expect, it } from "@effect/vitest"
import { Audience, MemberJoined, MessageDelta, OrgMemberLeft, PinDeleted, Reset } from "@troupe/domain/Event"
import { OrgId, PinId, RoomId, TeammateId, UserId } from "@troupe/domain/Ids"
import { RoomMember } from "@troupe/domain/Room"
import { addressesFor, addressesOf, changesAccess, sees, type Viewer } from "@troupe/domain/Visibility"
import { FastCheck as fc } from "effect"
import { randomUUID } from "node:crypto"

const org = OrgId.make(randomUUID())
const other = OrgId.make(randomUUID())
const room = RoomId.make(randomUUID())
const me = UserId.make(randomUUID())
const someone = UserId.make(randomUUID())

const viewer = (role: "owner" | "member" | "guest" | null, rooms: ReadonlyArray<RoomId> = []): Viewer => ({
  userId: me,
  orgs: new Map(role === null ? [] : [[org, role]]),
  rooms: new Set(rooms)
})
const audience = (a: { roomId?: RoomId; orgWide?: boolean; userIds?: ReadonlyArray<UserId> }) =>
  new Audience({ roomId: a.roomId ?? null, orgWide: a.orgWide ?? false, userIds: a.userIds ?? [] })

describe("who sees an event", () => {
  const table: ReadonlyArray<readonly [string, Viewer, OrgId | null, Audience, boolean]> = [
    ["an org-wide event, to a member", viewer("member"), org, audience({ orgWide: true }), true],
    ["an org-wide event, to a guest", viewer("guest"), org, audience({ orgWide: true }), false],
    ["an org-wide event, to someone outside the org", viewer(null), org, audience({ orgWide: true }), false],
    ["an org-wide event of another org", viewer("owner"), other, audience({ orgWide: true }), false],
    ["a room event, to a member of the room", viewer("member", [room]), org, audience({ roomId: room }), true],
    ["a room event, to a guest in the room", viewer("guest", [room]), org, audience({ roomId: room }), true],
    ["a room event, to a member of the org not in the room", viewer("owner"), org, audience({ roomId: room }), false],
    [
      "a room event, to someone who left the org but kept the room id",
      viewer(null, [room]),
      org,
      audience({ roomId: room }),
      false
    ],
    ["an event naming the reader, after they left the org", viewer(null), org, audience({ userIds: [me] }), true],
    ["an event naming someone else", viewer("guest"), org, audience({ userIds: [someone] }), false],
    ["an account event naming the reader", viewer(null), null, audience({ userIds: [me] }), true],
    ["an account event naming someone else", viewer("owner"), null, audience({ userIds: [someone] }), false]
  ]
  for (const [name, v, orgId, a, expected] of table) {
    it(`${name}: ${expected ? "seen" : "not seen"}`, () => expect(sees(v, orgId, a)).toBe(expected))
  }

  it("only membership, role and room events change what a reader may see", () => {
    const member = new RoomMember({
      kind: "user",
      id: me,
      name: "Me",
      handle: "me",
      joinedAt: new Date(),
      orgRole: "member"
    })
    expect(changesAccess(new MemberJoined({ roomId: room, member }))).toBe(true)
    expect(changesAccess(new OrgMemberLeft({ userId: me, reason: "removed" }))).toBe(true)
    expect(changesAccess(new Reset({ reason: "x" }))).toBe(false)
    expect(changesAccess(new PinDeleted({ roomId: room, pinId: PinId.make(randomUUID()) }))).toBe(false)
    const delta = new MessageDelta({
      roomId: room,
      threadId: null,
      runId: randomUUID(),
      teammateId: TeammateId.make(randomUUID()),
      offset: 0,
      text: "hi",
      restart: false
    })
    expect(changesAccess(delta)).toBe(false)
  })
})

describe("routing an event to the readers it may concern", () => {
  const orgs = [org, other]
  const rooms = [room, RoomId.make(randomUUID()), RoomId.make(randomUUID())]
  const users = [me, someone]
  const role = fc.constantFrom<"owner" | "admin" | "member" | "guest">("owner", "admin", "member", "guest")
  const arbitraryViewer = fc.record({
    userId: fc.constantFrom(...users),
    orgs: fc.dictionary(fc.constantFrom(...orgs), role).map((d) => new Map(Object.entries(d))),
    rooms: fc.subarray(rooms).map((r) => new Set<string>(r))
  })
  const arbitraryEvent = fc.record({
    orgId: fc.option(fc.constantFrom(...orgs), { nil: null }),
    roomId: fc.option(fc.constantFrom(...rooms), { nil: null }),
    orgWide: fc.boolean(),
    userIds: fc.subarray(users)
  })

  it("every reader who sees an event shares an address with it", () => {
    fc.assert(
      fc.property(arbitraryViewer, arbitraryEvent, (v, e) => {
        const a = audience({
          orgWide: e.orgWide,
          userIds: e.userIds,
          ...(e.roomId === null ? {} : { roomId: e.roomId })
        })
        if (!sees(v, e.orgId, a)) return true
        const to = new Set(addressesFor(e.orgId, a))
        return addressesOf(v).some((address) => to.has(address))
      }),
      { numRuns: 2000, seed: 20261203 }
    )
  })

  it("a guest is not reached by org-wide events, and nobody by another org's room they did not join", () => {
    const guest = viewer("guest", [room])
    expect(addressesOf(guest)).not.toContain(`org:${org}`)
    expect(addressesFor(org, audience({ orgWide: true }))).toEqual([`org:${org}`])
    expect(addressesOf(viewer("member"))).not.toContain(`room:${room}`)
    expect(addressesFor(null, audience({ roomId: room, userIds: [me] }))).toEqual([`user:${me}`])
  })
})
