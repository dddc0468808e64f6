/**
 * People, orgs, teammates and rooms made through the public API, for the
 * benchmarks (in-process and cluster alike).
 */
import * as TroupeClient from "@troupe/client/TroupeClient"
import type { OrgId, RoomId, TeammateId } from "@troupe/domain/Ids"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import type { TurnJob } from "./Protocol.js"

/** Signs a person up; returns their token, id and client. */
export const signup = (url: string, name: string) =>
  Effect.gen(function*() {
    const anonymous = yield* TroupeClient.make({ baseUrl: url })
    const email = `${name.toLowerCase()}.${randomBytes(4).toString("hex")}@bench.example.com`
    const session = yield* anonymous.auth.signup({ payload: { email, password: "correct horse battery", name } })
    const api = yield* TroupeClient.make({ baseUrl: url, token: session.token })
    return { email, token: session.token, id: session.user.id, api }
  })

/** A signed-up person. */
export type Person = Effect.Effect.Success<ReturnType<typeof signup>>

/** A person with an org of their own. */
export const orgOwner = (url: string, name: string) =>
  Effect.gen(function*() {
    const owner = yield* signup(url, name)
    const org = yield* owner.api.orgs.create({
      payload: { name, slug: `${name.toLowerCase()}-${randomBytes(4).toString("hex")}` }
    })
    return { owner, org }
  })

/** A hired teammate as the benchmarks use it. */
export interface Mate {
  readonly id: TeammateId
  readonly handle: string
}

/** A private room of `owner` and the teammates in it. */
export interface TeamRoom {
  readonly roomId: RoomId
  readonly mates: ReadonlyArray<Mate>
}

/**
 * Hires `rooms × perRoom` custom teammates (`<prefix><n>`) and puts each
 * room's share into a private room of the owner's: `concurrency` API calls
 * at a time.
 */
export const teamRooms = (
  owner: Person,
  orgId: OrgId,
  options: { readonly prefix: string; readonly rooms: number; readonly perRoom: number; readonly concurrency: number }
) =>
  Effect.gen(function*() {
    const handles = Array.from({ length: options.rooms * options.perRoom }, (_, i) => `${options.prefix}${i}`)
    const mates = yield* Effect.forEach(
      handles,
      (handle) =>
        Effect.map(
          owner.api.teammates.hire({ path: { org: orgId }, payload: { handle, name: handle, role: "Helper" } }),
          (t): Mate => ({ id: t.id, handle: t.handle })
        ),
      { concurrency: options.concurrency }
    )
    const rooms = yield* Effect.forEach(
      Array.from({ length: options.rooms }, (_, r) => r),
      (r) =>
        owner.api.rooms.create({
          path: { org: orgId },
          payload: { name: `${options.prefix}room-${r}`, kind: "private" }
        }),
      { concurrency: options.concurrency }
    )
    const placed = rooms.map((room, r): TeamRoom => ({
      roomId: room.id,
      mates: mates.slice(r * options.perRoom, (r + 1) * options.perRoom)
    }))
    yield* Effect.forEach(
      placed.flatMap((room) => room.mates.map((mate) => ({ room: room.roomId, mate }))),
      ({ mate, room }) => owner.api.teammates.addToRoom({ path: { room }, payload: { teammateId: mate.id } }),
      { concurrency: options.concurrency, discard: true }
    )
    return placed
  })

/**
 * Lanes for the load generator's `turns`: room `r` goes to lane `r % lanes`,
 * whose jobs mention each of its rooms' teammates in turn, `rounds` times.
 * One turn at a time per room keeps the poster's message the newest in the
 * history the model sees, so its directives (`suffix`, say `[[delay:50]]`)
 * apply to every turn.
 */
export const laneJobs = (
  token: string,
  rooms: ReadonlyArray<TeamRoom>,
  options: { readonly lanes: number; readonly rounds: number; readonly suffix: string; readonly label: string }
): ReadonlyArray<ReadonlyArray<TurnJob>> => {
  const lanes: Array<Array<TurnJob>> = Array.from({ length: Math.min(options.lanes, rooms.length) }, () => [])
  rooms.forEach((room, r) => {
    for (let round = 0; round < options.rounds; round++) {
      for (const mate of room.mates) {
        lanes[r % lanes.length]?.push({
          token,
          roomId: room.roomId,
          teammateId: mate.id,
          text: `@${mate.handle} ${options.label} ${round} ${options.suffix}`
        })
      }
    }
  })
  return lanes
}
