/**
 * Real Troupe node processes on loopback for `bench/cluster.ts`, started
 * with the same launcher as the multi-process tests.
 */
import * as NodeProcess from "@troupe/server/testing/NodeProcess"
import { Effect, type Redacted, type Scope } from "effect"
import * as Net from "node:net"
import { BenchError } from "./Child.js"

export { freePort, type Node } from "@troupe/server/testing/NodeProcess"

/** Starts a node named `name` (see `NodeProcess.startNode`). */
export const startNode = (
  name: string,
  database: Redacted.Redacted<string>,
  env: Record<string, string>
): Effect.Effect<NodeProcess.Node, BenchError, Scope.Scope> =>
  NodeProcess.startNode(database, env, name).pipe(Effect.mapError((e) => new BenchError({ message: e.message })))

/** Fails with a clear message when nothing answers a Redis PING at `url`. */
export const requireRedis = (url: string) =>
  Effect.async<void, BenchError>((resume) => {
    const u = new URL(url)
    const socket = Net.connect(Number(u.port || 6379), u.hostname)
    const fail = () => {
      socket.destroy()
      resume(
        Effect.fail(
          new BenchError({
            message: `bench:cluster needs Redis at REDIS_URL=${url}; start it or point REDIS_URL at one`
          })
        )
      )
    }
    socket.setTimeout(2000, fail)
    socket.once("error", fail)
    socket.once(
      "connect",
      () => socket.write(u.password ? `AUTH ${decodeURIComponent(u.password)}\r\nPING\r\n` : "PING\r\n")
    )
    socket.on("data", (d) => {
      if (d.toString().includes("+PONG")) {
        socket.destroy()
        resume(Effect.void)
      }
    })
  })
