/**
 * A fair share of a node for each org: at most `limit` writes of one org
 * run at once on a node; the org's further writes wait for a slot. The
 * node's event loop serves every request in turn, so an org with many
 * writes in flight delays everyone else's by as many steps; capping them
 * keeps a bursting org from crowding out a quiet one, while a handful of
 * writes in flight still keep the node busy.
 */
import { Effect, Exit, type Scope } from "effect"

/** Per-org slots on this node. */
export interface OrgShare {
  /** Takes one of the org's slots until the scope closes, waiting for one if all are taken. */
  readonly slot: (orgId: string) => Effect.Effect<void, never, Scope.Scope>
  /** Writes running and waiting for the org now. */
  readonly load: (orgId: string) => { readonly running: number; readonly waiting: number }
}

interface Lane {
  readonly semaphore: Effect.Semaphore
  running: number
  waiting: number
}

/**
 * An `OrgShare` giving each org `limit` slots: a semaphore per org (whose
 * wait can be interrupted without losing a permit), dropped when idle.
 */
export const make = (limit: number): OrgShare => {
  const lanes = new Map<string, Lane>()
  const leave = (orgId: string, lane: Lane) => {
    if (lane.running + lane.waiting === 0) lanes.delete(orgId)
  }
  return {
    slot: (orgId) =>
      Effect.uninterruptibleMask((restore) => {
        let lane = lanes.get(orgId)
        if (lane === undefined) {
          lanes.set(orgId, lane = { semaphore: Effect.unsafeMakeSemaphore(limit), running: 0, waiting: 0 })
        }
        const taken = lane
        taken.waiting++
        return Effect.flatMap(Effect.exit(restore(taken.semaphore.take(1))), (exit) => {
          taken.waiting--
          if (Exit.isFailure(exit)) {
            leave(orgId, taken)
            return Effect.asVoid(exit)
          }
          taken.running++
          return Effect.addFinalizer(() =>
            Effect.map(taken.semaphore.release(1), () => {
              taken.running--
              leave(orgId, taken)
            })
          )
        })
      }),
    load: (orgId) => {
      const lane = lanes.get(orgId)
      return { running: lane?.running ?? 0, waiting: lane?.waiting ?? 0 }
    }
  }
}
