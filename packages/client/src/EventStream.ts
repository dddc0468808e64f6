/**
 * A Server-Sent Events reader for the event stream: parses frames, tracks
 * the last event id and resumes from it.
 */
import { Delivered } from "@troupe/domain/Event"
import { Effect, Option, Schema, Stream } from "effect"

/** One parsed SSE frame. */
export interface Frame {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

/** Splits a text stream into SSE frames; comments (keep-alives) are dropped. */
export const parseFrames = (chunks: Stream.Stream<string, unknown>): Stream.Stream<Frame, unknown> =>
  chunks.pipe(
    Stream.mapAccum("", (buffer, chunk) => {
      const text = (buffer + chunk).replace(/\r\n/g, "\n")
      const blocks = text.split("\n\n")
      const rest = blocks.pop() ?? ""
      return [rest, blocks] as const
    }),
    Stream.flattenIterables,
    Stream.filterMap((block) => {
      let id: string | undefined
      let event = "message"
      const data: Array<string> = []
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue
        const colon = line.indexOf(":")
        const field = colon === -1 ? line : line.slice(0, colon)
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "")
        if (field === "id") id = value
        else if (field === "event") event = value
        else if (field === "data") data.push(value)
      }
      return data.length === 0 ? Option.none() : Option.some<Frame>({ id, event, data: data.join("\n") })
    })
  )

const decodeDelivered = Schema.decodeUnknown(Schema.parseJson(Delivered))

/** Options for opening the stream. */
export interface StreamOptions {
  readonly baseUrl: string
  readonly token: string
  readonly lastEventId?: string | undefined
  readonly signal?: AbortSignal | undefined
}

/** Opens `GET /v1/events` and yields decoded events in order. */
export const open = (options: StreamOptions): Stream.Stream<Delivered, unknown> =>
  Stream.unwrap(Effect.gen(function*() {
    const response = yield* Effect.tryPromise((signal) =>
      fetch(`${options.baseUrl}/v1/events`, {
        headers: {
          authorization: `Bearer ${options.token}`,
          accept: "text/event-stream",
          ...(options.lastEventId !== undefined ? { "last-event-id": options.lastEventId } : {})
        },
        signal: options.signal === undefined ? signal : AbortSignal.any([signal, options.signal])
      })
    )
    if (!response.ok || response.body === null) {
      return yield* Effect.fail(new Error(`event stream answered ${response.status}: ${yield* Effect.promise(() => response.text())}`))
    }
    const body = response.body
    const text = Stream.fromReadableStream(() => body.pipeThrough(new TextDecoderStream()), (e) => e)
    return parseFrames(text).pipe(Stream.mapEffect((frame) => decodeDelivered(frame.data)))
  }))
