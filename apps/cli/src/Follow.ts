/**
 * Following the event stream for as long as a command needs it: a dropped
 * connection, a server answering 5xx while it starts or stops, or a server
 * that closed the stream (a restart) is reconnected after the last event
 * seen, so nothing is missed and nothing comes twice. `access.revoked` ends
 * it with exit 2.
 */
import * as EventStream from "@troupe/client/EventStream"
import type { Delivered } from "@troupe/domain/Event"
import { Console, Effect, Stream } from "effect"
import { Failure, failureOf, field, type Session } from "./Session.js"

/**
 * Hands every event after `after` (or from now) to `onEvent` until it answers
 * false; `onReady` runs once the first connection is subscribed, before any
 * event, so work done then cannot be missed.
 */
export const follow = (
  s: Session,
  after: string | undefined,
  onEvent: (d: Delivered) => Effect.Effect<boolean, Failure>,
  onReady: Effect.Effect<void, Failure> = Effect.void
): Effect.Effect<void, Failure> =>
  Effect.gen(function*() {
    let last = after
    let revoked: string | undefined = undefined
    let ready = false
    let more = true
    while (more) {
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const connection = yield* EventStream.connect({ baseUrl: s.url, token: s.token, lastEventId: last })
        // Resumable from here on, even before the first event.
        last ??= connection.position
        if (!ready) {
          ready = true
          yield* onReady
        }
        yield* connection.events.pipe(
          Stream.runForEachWhile((d) =>
            Effect.suspend(() => {
              last = d.id
              if (d.event.type === "access.revoked") revoked = d.event.reason
              return Effect.tap(onEvent(d), (go) => Effect.sync(() => (more = go)))
            })
          )
        )
      })).pipe(Effect.either)
      if (result._tag === "Left") {
        const failure = failureOf(s.url)(result.left)
        // The stream unreachable, or answering 5xx while the server starts or stops: both pass.
        // Anything else, and the command's own failures, are final.
        const status = field(result.left, "status")
        const transient = !(result.left instanceof Failure) &&
          (failure.code === 3 || (typeof status === "number" && status >= 500))
        if (!transient || last === undefined) return yield* failure
        // The server went away mid-stream: come back where the stream broke off.
        yield* Console.error("connection lost; reconnecting…")
        yield* Effect.sleep("1 second")
      } else if (revoked !== undefined) {
        return yield* new Failure({ message: `the stream ended: ${revoked}`, code: 2 })
      } else if (more) {
        // The server closed the stream (a restart): resume where it broke off.
        yield* Console.error("stream closed by the server; reconnecting…")
        yield* Effect.sleep("1 second")
      }
    }
  })
