/**
 * What a teammate does with messages that arrive while it is busy, as pure
 * decisions the runtime acts on:
 *
 * - `queue`: each waits for its own next turn;
 * - `merge`: the waiting ones of the same conversation (room and thread) fold
 *   into one next turn;
 * - `interrupt`: the running turn is cancelled and the next starts at once;
 * - `reject`: the newcomer gets a busy reply at once.
 */
import type { BusyPolicy } from "@troupe/domain/Teammate"

/** What to do at once with a trigger that arrives during a turn. */
export type Arrival = "wait" | "interrupt-running" | "reply-busy"

/** The decision for a trigger arriving while a turn runs. */
export const onArrival = (policy: BusyPolicy): Arrival => {
  switch (policy) {
    case "queue":
    case "merge":
      return "wait"
    case "interrupt":
      return "interrupt-running"
    case "reject":
      return "reply-busy"
  }
}

/** A waiting trigger, as far as batching is concerned. */
export interface Waiting {
  readonly roomId: string
  readonly threadId: string | null
}

/**
 * The triggers the next turn takes from those waiting (oldest first): the
 * oldest alone, or under `merge` every one of its conversation.
 */
export const nextBatch = <T extends Waiting>(policy: BusyPolicy, waiting: ReadonlyArray<T>): ReadonlyArray<T> => {
  const [first] = waiting
  if (first === undefined) return []
  return policy === "merge"
    ? waiting.filter((t) => t.roomId === first.roomId && t.threadId === first.threadId)
    : [first]
}
