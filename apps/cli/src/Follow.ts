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
import { Failure, failureOf, type Session } from "./Session.js"

/**
 * Hands every event after `after` (or from now) to `onEvent` until it answers
 * false; `onReady` runs once the first connection is subscribed, before any
 * event, so work done then cannot be missed. Reconnecting is the SDK's
 * (`EventStream.follow`); a reconnection is said on stderr.
 */
export const follow = (
  s: Session,
  after: string | undefined,
  onEvent: (d: Delivered) => Effect.Effect<boolean, Failure>,
  onReady: Effect.Effect<void, Failure> = Effect.void
): Effect.Effect<void, Failure> =>
  Effect.gen(function*() {
    let revoked: string | undefined = undefined
    yield* EventStream.follow({
      baseUrl: s.url,
      token: s.token,
      lastEventId: after,
      onReady,
      onReconnect: (reason) => Console.error(`${reason}; reconnecting…`)
    }).pipe(
      Stream.mapError(failureOf(s.url)),
      Stream.runForEachWhile((d) =>
        Effect.suspend(() => {
          if (d.event.type === "access.revoked") revoked = d.event.reason
          return onEvent(d)
        })
      )
    )
    if (revoked !== undefined) return yield* new Failure({ message: `the stream ended: ${revoked}`, code: 2 })
  })
