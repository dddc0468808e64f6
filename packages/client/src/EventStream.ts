/**
 * A reader of the event stream (`GET /v1/events`): connects, waits for the
 * server's ready handshake, then yields decoded events in order. Frames are
 * parsed with `@effect/experimental`'s SSE parser.
 */
import * as Sse from "@effect/experimental/Sse"
import { Delivered } from "@troupe/domain/Event"
import { Data, Effect, Option, Schema, type Scope, Stream } from "effect"

/** The stream could not be opened, broke, or carried something that is not an event. */
export class EventStreamError extends Data.TaggedError("EventStreamError")<{
  readonly message: string
  readonly status?: number
  readonly cause?: unknown
}> {}

/** Options for opening the stream. */
export interface StreamOptions {
  readonly baseUrl: string
  readonly token: string
  /** Resume after this event id (sent as `Last-Event-ID`). */
  readonly lastEventId?: string | undefined
}

/** An open stream. */
export interface Connection {
  /** The log position the subscription starts after, from the server's `: ready <position>` handshake. */
  readonly position: string
  /** The events, in order, until the server ends the stream (it does after `access.revoked`). */
  readonly events: Stream.Stream<Delivered, EventStreamError>
}

const decodeDelivered = Schema.decodeUnknown(Schema.parseJson(Delivered))

/** The first block the server sends: `retry: …` and the `: ready <position>` comment, ended by a blank line. */
const handshake = /^(?:retry: *\d+\r?\n)?: ?ready (\S+)\r?\n\r?\n/

/**
 * Opens the stream and waits for its handshake: once this succeeds, the
 * server has subscribed, so nothing written after it is missed. The
 * connection closes with the scope.
 */
export const connect = (options: StreamOptions): Effect.Effect<Connection, EventStreamError, Scope.Scope> =>
  Effect.gen(function*() {
    const controller = yield* Effect.acquireRelease(
      Effect.sync(() => new AbortController()),
      (c) => Effect.sync(() => c.abort())
    )
    const response = yield* Effect.tryPromise({
      try: () =>
        fetch(`${options.baseUrl}/v1/events`, {
          headers: {
            authorization: `Bearer ${options.token}`,
            accept: "text/event-stream",
            ...(options.lastEventId !== undefined ? { "last-event-id": options.lastEventId } : {})
          },
          signal: controller.signal
        }),
      catch: (cause) => new EventStreamError({ message: "the event stream could not be reached", cause })
    })
    if (!response.ok || response.body === null) {
      const text = yield* Effect.promise(() => response.text().catch(() => ""))
      return yield* new EventStreamError({
        message: `the event stream answered ${response.status}: ${text}`,
        status: response.status
      })
    }
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    const read = Effect.tryPromise({
      try: () => reader.read(),
      catch: (cause) => new EventStreamError({ message: "the event stream broke", cause })
    }).pipe(Effect.map((r) => r.done ? Option.none<string>() : Option.some(decoder.decode(r.value, { stream: true }))))

    let head = ""
    let match: RegExpMatchArray | null = null
    while ((match = head.match(handshake)) === null) {
      // The handshake is the first block; what follows it in the same chunk are events.
      if (head.length > 4096 || /\r?\n\r?\n/.test(head)) {
        return yield* new EventStreamError({ message: "the event stream did not start with its handshake" })
      }
      const chunk = yield* read
      if (Option.isNone(chunk)) {
        return yield* new EventStreamError({ message: "the event stream ended before it was ready" })
      }
      head += chunk.value
    }
    const rest = head.slice(match[0].length)

    let parsed: Array<Sse.Event> = []
    const parser = Sse.makeParser((event) => {
      if (event._tag === "Event") parsed.push(event)
    })
    const feed = (text: string) =>
      Effect.suspend(() => {
        const error = parser.feed(text)
        if (error !== undefined) {
          return Effect.fail(new EventStreamError({ message: "an event was too large", cause: error }))
        }
        const out = parsed
        parsed = []
        return Effect.succeed(out)
      })
    const chunks = Stream.concat(
      Stream.make(rest),
      Stream.repeatEffectOption(
        Effect.flatMap(
          read,
          Option.match({
            onNone: () => Effect.fail(Option.none<EventStreamError>()),
            onSome: Effect.succeed
          })
        ).pipe(Effect.mapError((e) => Option.isOption(e) ? e : Option.some(e)))
      )
    )
    const events = chunks.pipe(
      Stream.mapEffect(feed),
      Stream.flattenIterables,
      Stream.mapEffect((event) =>
        Effect.mapError(
          decodeDelivered(event.data),
          (cause) => new EventStreamError({ message: "a frame is not an event", cause })
        )
      )
    )
    return { position: match[1] ?? "", events } satisfies Connection
  })

/** The events of a stream opened from `options`, in order; the connection closes when the stream is done. */
export const open = (options: StreamOptions): Stream.Stream<Delivered, EventStreamError> =>
  Stream.unwrapScoped(Effect.map(connect(options), (c) => c.events))
