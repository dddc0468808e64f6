import { describe, expect, it } from "@effect/vitest"
import type { BusyPolicy } from "@troupe/domain/Teammate"
import { nextBatch, onArrival } from "../src/BusyPolicy.js"

const waiting = [
  { id: "a", roomId: "r1", threadId: null },
  { id: "b", roomId: "r2", threadId: null },
  { id: "c", roomId: "r1", threadId: null },
  { id: "d", roomId: "r1", threadId: "t1" },
  { id: "e", roomId: "r1", threadId: null }
] as const

describe("busy policies", () => {
  const table: ReadonlyArray<readonly [BusyPolicy, ReturnType<typeof onArrival>, ReadonlyArray<string>]> = [
    ["queue", "wait", ["a"]],
    ["merge", "wait", ["a", "c", "e"]],
    ["interrupt", "interrupt-running", ["a"]],
    ["reject", "reply-busy", ["a"]]
  ]
  for (const [policy, arrival, batch] of table) {
    it(`${policy}: a newcomer during a turn → ${arrival}; the next turn takes ${batch.join(", ")}`, () => {
      expect(onArrival(policy)).toBe(arrival)
      expect(nextBatch(policy, waiting).map((t) => t.id)).toEqual(batch)
    })
  }

  it("merge folds only the oldest trigger's conversation: another thread of the same room waits", () => {
    const fromThread = nextBatch("merge", waiting.slice(3))
    expect(fromThread.map((t) => t.id)).toEqual(["d"])
  })

  it("with nothing waiting there is no next turn", () => {
    for (const policy of ["queue", "merge", "interrupt", "reject"] as const) expect(nextBatch(policy, [])).toEqual([])
  })
})
