/**
 * A reader of the event stream (`GET /v1/events`): connects, waits for the
 * server's ready handshake, then yields decoded events in order. Frames are
 * parsed with `@effect/experimental`'s SSE parser.
 */
import * as Sse from "@effect/experimental/Sse"
import { Delivered } from "@troupe/domain/Event"
import { Data, Effect, Option, Schedule, Schema, type Scope, Stream } from "effect"

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

/** Options for following the stream across reconnections. */
export interface FollowOptions<E = never> extends StreamOptions {
  /**
   * Runs once, when the first connection is subscribed and before any event:
   * work done then is never missed. Its failure ends the stream.
   */
  readonly onReady?: Effect.Effect<void, E> | undefined
  /** Runs each time a connection is subscribed (the first one after `onReady`), before its events. */
  readonly onConnected?: Effect.Effect<void> | undefined
  /** Runs before each reconnection, with why the last connection ended. */
  readonly onReconnect?: ((reason: string) => Effect.Effect<void>) | undefined
  /**
   * When the first connection fails in a way a new one recovers from:
   * `"fail"` (the default) ends the stream with its error, for a caller
   * that reports it; `"retry"` reconnects as after a drop, for a page that
   * stays open while the server restarts.
   */
  readonly firstFailure?: "fail" | "retry" | undefined
}

/**
 * A connection that ended in a way a new one recovers from: unreachable, a
 * 5xx (a node starting or stopping), 429 (too many requests for now), closed.
 */
const recoverable = (e: EventStreamError) => e.status === undefined || e.status >= 500 || e.status === 429

/** Waits between reconnections: half a second, doubling up to 5 seconds, with jitter. */
const reconnecting = Schedule.exponential("500 millis").pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.jittered
)

/**
 * The events from `options.lastEventId` on (or from now), for as long as the
 * consumer reads: a dropped connection, a server answering 5xx while it
 * starts or stops, or a server that closed the stream (a restart) is
 * reconnected with `Last-Event-ID` set to the last event read, so nothing is
 * missed and nothing comes twice. A `reset` event is passed on: the consumer
 * reloads its snapshot. `access.revoked` is the last event. Only a refusal
 * (4xx), or a failure of the first connection unless `firstFailure` is
 * `"retry"`, ends the stream with an error.
 */
export const follow = <E = never>(options: FollowOptions<E>): Stream.Stream<Delivered, EventStreamError | E> =>
  Stream.suspend(() => {
    let last = options.lastEventId
    let ready = false
    let revoked = false
    const once = Stream.unwrapScoped(Effect.gen(function*() {
      const connection = yield* connect({ ...options, lastEventId: last })
      // Resumable from here on, even before the first event.
      last ??= connection.position
      if (!ready) {
        ready = true
        if (options.onReady !== undefined) yield* options.onReady
      }
      if (options.onConnected !== undefined) yield* options.onConnected
      return connection.events.pipe(
        Stream.tap((d) =>
          Effect.sync(() => {
            last = d.id
            if (d.event.type === "access.revoked") revoked = true
          })
        ),
        Stream.takeUntil((d) => d.event.type === "access.revoked")
      )
    })).pipe(
      Stream.concat(
        Stream.suspend(() =>
          revoked ? Stream.empty : Stream.fail(new EventStreamError({ message: "the server closed the event stream" }))
        )
      )
    )
    return once.pipe(
      Stream.retry(
        reconnecting.pipe(
          Schedule.whileInput((e: EventStreamError | E) =>
            (ready || options.firstFailure === "retry") && e instanceof EventStreamError && recoverable(e)
          ),
          Schedule.tapInput((e: EventStreamError | E) =>
            e instanceof EventStreamError ? options.onReconnect?.(e.message) ?? Effect.void : Effect.void
          )
        )
      )
    )
  })
