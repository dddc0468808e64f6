/**
 * Soft mentions: for a message that names no one, in a room whose routing is
 * `auto`, decide whether one teammate should answer. The decision is
 * deterministic and explained: the teammate whose role and instructions share
 * the most significant words with the message, if any share at least one.
 */
import type { Teammate } from "@troupe/domain/Teammate"

const stop = new Set(
  ("about above after again against all also and any are because been before being below between both but can could did does " +
    "doing down during each few for from further had has have having her here hers herself him himself his how into its itself " +
    "just more most myself nor not now off once only other our ours out over own same she should some such than that the their " +
    "theirs them then there these they this those through too under until very was were what when where which while who whom " +
    "why will with would you your yours yourself please thanks thank hello team").split(" ")
)

const words = (text: string) =>
  new Set(
    text.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 3 && !stop.has(w)).map((w) =>
      w.replace(/(ing|ed|es|s)$/, "")
    )
  )

/** A routing decision. */
export interface Decision {
  readonly teammate: Teammate | null
  readonly reason: string
}

/** Picks at most one teammate for `text`. */
export const route = (text: string, candidates: ReadonlyArray<Teammate>): Decision => {
  if (candidates.length === 0) return { teammate: null, reason: "no teammates in this room" }
  const asked = words(text)
  let best: { teammate: Teammate; shared: Array<string> } | null = null
  for (const t of candidates) {
    const profile = words(`${t.name} ${t.role} ${t.instructions}`)
    const shared = [...asked].filter((w) => profile.has(w))
    if (shared.length > 0 && (best === null || shared.length > best.shared.length)) best = { teammate: t, shared }
  }
  if (best === null) return { teammate: null, reason: "no teammate's role matches this message" }
  return {
    teammate: best.teammate,
    reason: `matches ${best.teammate.name}'s role on ${best.shared.slice(0, 3).map((w) => `"${w}"`).join(", ")}`
  }
}
