/**
 * The CPU time of this process, which runs the in-process server: how much a
 * phase cost it, and a wait until it is idle.
 */
import { Effect } from "effect"
import { performance } from "node:perf_hooks"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

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

/** V8's collector, exposed at run time so memory is measured without garbage that is only waiting to be collected. */
const collector: unknown = (() => {
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc")
})()

/** This process's resident memory and live heap in bytes, after a full collection. */
export const memoryAfterGc = Effect.sync(() => {
  if (typeof collector === "function") Reflect.apply(collector, undefined, [])
  const usage = process.memoryUsage()
  return { rss: usage.rss, heap: usage.heapUsed + usage.external }
})
