/**
 * The CPU time of this process, which runs the in-process server: how much a
 * phase cost it, and a wait until it is idle.
 */
import { Effect } from "effect"
import { performance } from "node:perf_hooks"

/**
 * Waits until this process (the server) is nearly idle: under 10% of a core
 * over a quarter second, for at most `timeoutMs`.
 */
export const quiesce = (timeoutMs: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    while (performance.now() - start < timeoutMs) {
      const before = process.cpuUsage()
      yield* Effect.sleep("250 millis")
      const used = process.cpuUsage(before)
      if ((used.user + used.system) / 1000 < 25) return
    }
  })

/** Runs `self` and returns its result with the CPU time this process (the server) spent meanwhile, in ms. */
export const withServerCpu = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = process.cpuUsage()
    const result = yield* self
    const used = process.cpuUsage(before)
    return [result, (used.user + used.system) / 1000] as const
  })
