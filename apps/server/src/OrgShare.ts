/**
 * A fair share of a node for each org: at most `limit` writes of one org
 * run at once on a node; the org's further writes wait for a slot. The
 * node's event loop serves every request in turn, so an org with many
 * writes in flight delays everyone else's by as many steps; capping them
 * keeps a bursting org from crowding out a quiet one, while a handful of
 * writes in flight still keep the node busy.
 */
import { Effect, type Scope } from "effect"

/** Per-org slots on this node. */
export interface OrgShare {
  /** Takes one of the org's slots until the scope closes, waiting for one if all are taken. */
  readonly slot: (orgId: string) => Effect.Effect<void, never, Scope.Scope>
  /** Writes running and waiting for the org now. */
  readonly load: (orgId: string) => { readonly running: number; readonly waiting: number }
}

interface Lane {
  running: number
  readonly waiting: Array<() => void>
}

/** An `OrgShare` giving each org `limit` slots. Idle orgs hold no state. */
export const make = (limit: number): OrgShare => {
  const lanes = new Map<string, Lane>()
  const release = (orgId: string) => {
    const lane = lanes.get(orgId)
    if (lane === undefined) return
    const next = lane.waiting.shift()
    if (next !== undefined) return next()
    lane.running--
    if (lane.running === 0) lanes.delete(orgId)
  }
  const acquire = (orgId: string) =>
    Effect.async<void>((resume) => {
      let lane = lanes.get(orgId)
      if (lane === undefined) lanes.set(orgId, lane = { running: 0, waiting: [] })
      if (lane.running < limit) {
        lane.running++
        return resume(Effect.void)
      }
      // A released slot passes straight to the next waiter (running stays the same).
      const wake = () => resume(Effect.void)
      lane.waiting.push(wake)
      return Effect.sync(() => {
        const at = lane.waiting.indexOf(wake)
        if (at >= 0) lane.waiting.splice(at, 1)
      })
    })
  return {
    slot: (orgId) => Effect.asVoid(Effect.acquireRelease(acquire(orgId), () => Effect.sync(() => release(orgId)))),
    load: (orgId) => {
      const lane = lanes.get(orgId)
      return { running: lane?.running ?? 0, waiting: lane?.waiting.length ?? 0 }
    }
  }
}
