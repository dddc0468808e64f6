/**
 * The durable event log in Postgres. Writers append inside their own
 * transaction (so an event exists exactly when the change it describes
 * does); positions come from one counter row locked until commit, so they are
 * contiguous and commit in order. Any node can replay any range.
 */
import { Headers, HttpTraceContext } from "@effect/platform"
import { PgClient } from "@effect/sql-pg"
import type { SqlError } from "@effect/sql/SqlError"
import { Audience, Delivered, Event } from "@troupe/domain/Event"
import { OrgId } from "@troupe/domain/Ids"
import { Context, Effect, Either, Layer, Option, ParseResult, Schema, type Tracer } from "effect"
import * as Rows from "./internal/Rows.js"
import { onCommit } from "./OrgScope.js"

/** An event to append, with who may see it. */
export interface PendingEvent {
  readonly audience: Audience
  readonly event: Event
}

/** A stored event. */
export interface LoggedEvent {
  readonly position: number
  /** The org the event belongs to; null for account-level events (a log-out). */
  readonly orgId: OrgId | null
  readonly audience: Audience
  readonly delivered: Delivered
  /** The span that appended the event, if it was traced: work the event causes can join its trace. */
  readonly writer: Option.Option<Tracer.ExternalSpan>
}

/** Where the log stands. */
export interface LogHead {
  /** The newest committed position (0 when empty). */
  readonly position: number
  /** The oldest position still retained. */
  readonly retainedFrom: number
}

interface EventRow {
  readonly position: string
  readonly orgId: string | null
  readonly roomId: string | null
  readonly orgWide: boolean
  readonly userIds: ReadonlyArray<string>
  readonly payload: unknown
  readonly createdAt: Date
  readonly traceParent: string | null
}

const Appended = Schema.Struct({ position: Schema.NumberFromString, at: Schema.DateFromSelf })
const Head = Schema.Struct({ position: Schema.NumberFromString, retainedFrom: Schema.NumberFromString })

const encodeEvent = Schema.encodeSync(Event)
const decodeEvent = Schema.decodeUnknownEither(Event)
const decodeAudience = Schema.decodeUnknownEither(Audience)
const decodeOrgId = Schema.decodeUnknownEither(Schema.NullOr(OrgId))

/** A stored row that does not decode: logged and skipped, so one bad row never stops a reader. */
/** The span that wrote an event, from its stored `traceparent`. */
const writerOf = (traceParent: string | null): Option.Option<Tracer.ExternalSpan> =>
  traceParent === null ? Option.none() : HttpTraceContext.w3c(Headers.unsafeFromRecord({ traceparent: traceParent }))

/**
 * A log follower's saved cursor (`log_cursors`), written lazily: `save(position,
 * now)` writes at once when `now` (the batch did something a crash should not
 * repeat, or the log is quiet), else at most once per `lazyMs`. What a crash
 * makes the follower read again must be harmless to handle twice.
 */
export const lazyCursor = (
  log: { readonly saveCursor: (name: string, position: number) => Effect.Effect<void, SqlError> },
  name: string,
  start: number,
  lazyMs = 1000
) => {
  let saved = start
  let savedAt = Date.now()
  return (position: number, now: boolean): Effect.Effect<void, SqlError> =>
    position > saved && (now || Date.now() - savedAt >= lazyMs)
      ? Effect.tap(log.saveCursor(name, position), () => {
        saved = position
        savedAt = Date.now()
      })
      : Effect.void
}

/** How many of the latest events a node keeps in memory for its readers. */
export const RECENT_EVENTS = 2048

/**
 * The latest events this node appended or read, by position. The log has no
 * gaps (a rolled-back append gives its positions back) and a committed event
 * never changes, so a run of consecutive positions held here is exactly what
 * Postgres would return for it. An appended event is added only once its
 * transaction has committed.
 */
export class RecentEvents {
  private readonly byPosition = new Map<number, LoggedEvent>()
  constructor(private readonly capacity: number) {}

  add(events: ReadonlyArray<LoggedEvent>) {
    for (const e of events) this.byPosition.set(e.position, e)
    // Insertion order is mostly position order: drop the oldest held.
    for (const position of this.byPosition.keys()) {
      if (this.byPosition.size <= this.capacity) break
      this.byPosition.delete(position)
    }
  }

  /** Events after `position` held without a gap, at most `limit`; empty when the next one is not held. */
  after(position: number, limit: number): ReadonlyArray<LoggedEvent> {
    const out: Array<LoggedEvent> = []
    for (let next = this.byPosition.get(position + 1); next !== undefined && out.length < limit;) {
      out.push(next)
      next = this.byPosition.get(next.position + 1)
    }
    return out
  }
}

const toLogged = (row: EventRow): Either.Either<LoggedEvent, string> =>
  Either.gen(function*() {
    const position = Number(row.position)
    const orgId = yield* decodeOrgId(row.orgId)
    const audience = yield* decodeAudience({ roomId: row.roomId, orgWide: row.orgWide, userIds: row.userIds })
    const event = yield* decodeEvent(row.payload)
    return {
      position,
      orgId,
      audience,
      delivered: new Delivered({ id: String(position), orgId, at: row.createdAt, event }, true),
      writer: writerOf(row.traceParent)
    }
  }).pipe(Either.mapLeft((e) => {
    const [first] = ParseResult.ArrayFormatter.formatErrorSync(e)
    const where = first === undefined || first.path.length === 0 ? "" : `${first.path.join(".")}: `
    return `event ${row.position} cannot be read: ${where}${(first?.message ?? e.message).slice(0, 300)}`
  }))

const decodeRows = (rows: ReadonlyArray<EventRow>) =>
  Effect.gen(function*() {
    const out: Array<LoggedEvent> = []
    for (const row of rows) {
      const logged = toLogged(row)
      if (Either.isRight(logged)) out.push(logged.right)
      else yield* Effect.logError(logged.left)
    }
    return out
  })

/**
 * A coarse filter for replay: the events of the reader's orgs and the events
 * naming the reader. The reader decides what it may see among them (see
 * `@troupe/domain/Visibility`); this only keeps other orgs' events away.
 */
export interface ReplayFilter {
  readonly userId: string
  /** Orgs the reader belongs to. */
  readonly orgIds: ReadonlyArray<string>
}

/**
 * What to do once a transaction that appended events has committed: the
 * server wakes every node's readers of the log. Because the log runs it, no
 * writer can forget to.
 */
export class LogWaker extends Context.Tag("@troupe/store/LogWaker")<
  LogWaker,
  (position: number) => Effect.Effect<void>
>() {
  /** Nobody to wake (readers poll): for tools and tests of the store alone. */
  static readonly none = Layer.succeed(LogWaker, () => Effect.void)
}

/** The durable, ordered event log. */
export class EventLog extends Effect.Service<EventLog>()("@troupe/store/EventLog", {
  effect: Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const wake = yield* LogWaker
    const recent = new RecentEvents(RECENT_EVENTS)

    /**
     * Appends events for one org. Call it as the last statement of the
     * writing transaction: the counter row stays locked until commit. Readers
     * are woken once the transaction commits.
     */
    const append = Effect.fn("EventLog.append")(function*(orgId: OrgId | null, events: ReadonlyArray<PendingEvent>) {
      if (events.length === 0) return []
      const traceParent = Option.match(yield* Effect.option(Effect.currentSpan), {
        onNone: () => null,
        onSome: (span) => HttpTraceContext.toHeaders(span)["traceparent"] ?? null
      })
      const rows = events.map((e) => ({
        roomId: e.audience.roomId,
        orgWide: e.audience.orgWide,
        userIds: e.audience.userIds,
        type: e.event.type,
        payload: encodeEvent(e.event)
      }))
      // One statement: the counter row moves by the number of events (and
      // stays locked until commit) and the events take the positions it gave.
      // The events travel as one JSON document, its keys in snake case as the
      // client writes every JSON value (payloads are stored that way). Nothing
      // is returned from the insert: account-level events (no org) are not
      // readable under row-level security, and returned rows would have to be.
      const document = sql.json({ events: rows })
      const { at, position: first } = yield* sql`
        WITH counter AS (UPDATE event_log_state SET position = position + ${events.length} RETURNING position),
        inserted AS (
          INSERT INTO events (position, org_id, room_id, org_wide, user_ids, type, payload, trace_parent)
          SELECT counter.position - ${events.length} + e.ord, ${orgId}::uuid, (e.v->>'room_id')::uuid,
            (e.v->>'org_wide')::boolean, ARRAY(SELECT jsonb_array_elements_text(e.v->'user_ids'))::uuid[],
            e.v->>'type', e.v->'payload', ${traceParent}::text
          FROM counter, jsonb_array_elements(${document}::jsonb->'events') WITH ORDINALITY AS e(v, ord))
        SELECT position - ${events.length} + 1 AS position, now() AS at FROM counter`.pipe(
        Rows.one("event log state", Appended)
      )
      // Once committed, the node's own readers take these from memory instead of reading them back.
      const writer = writerOf(traceParent)
      const logged = events.map((e, i): LoggedEvent => ({
        position: first + i,
        orgId,
        audience: e.audience,
        delivered: new Delivered({ id: String(first + i), orgId, at, event: e.event }, true),
        writer
      }))
      yield* onCommit(Effect.zipRight(Effect.sync(() => recent.add(logged)), wake(first + events.length - 1)))
      return logged.map((e) => e.position)
    })

    const head = Effect.fn("EventLog.head")(function*() {
      const head: LogHead = yield* sql`SELECT position, retained_from FROM event_log_state`.pipe(
        Rows.one("event log state", Head)
      )
      return head
    })

    /** Every event after `position`, in order, up to `limit` (for node tailers). */
    /**
     * Up to `limit` events after `position`, in order. Given `head`, a
     * position the log is known to have reached (a wake-up's), the events
     * come from memory when this node holds every one of them up to `head`
     * (or up to the limit): what it wrote or read lately. Otherwise, or
     * without `head`, from Postgres.
     */
    const readAfter = Effect.fn("EventLog.readAfter")(function*(position: number, limit: number, head?: number) {
      if (head !== undefined) {
        const known = recent.after(position, limit)
        const last = known[known.length - 1]
        if (last !== undefined && (known.length === limit || last.position >= head)) return known
      }
      const rows = yield* sql<EventRow>`
        SELECT position, org_id, room_id, org_wide, user_ids, payload, created_at, trace_parent
        FROM troupe_events_after(${position}, ${limit})`
      const read = yield* decodeRows(rows)
      recent.add(read)
      return read
    })

    /** Events after `position` (up to `until`) of the reader's orgs or naming the reader, in order. */
    const replay = Effect.fn("EventLog.replay")(
      function*(filter: ReplayFilter, position: number, until: number, limit: number) {
        const rows = yield* sql<EventRow>`
          SELECT position, org_id, room_id, org_wide, user_ids, payload, created_at, trace_parent
          FROM troupe_events_for(${filter.userId}::uuid, ${[
          ...filter.orgIds
        ]}::uuid[], ${position}, ${until}, ${limit})`
        return {
          events: yield* decodeRows(rows),
          last: rows.length === 0 ? null : Number(rows[rows.length - 1]?.position),
          full: rows.length >= limit
        }
      }
    )

    /** Deletes events older than the retention period; returns how many. */
    const prune = Effect.fn("EventLog.prune")(function*(retentionSeconds: number) {
      const { deleted } = yield* sql`
        SELECT troupe_prune_events(${`${retentionSeconds} seconds`}::interval) AS deleted`.pipe(
        Rows.one("pruned count", Schema.Struct({ deleted: Schema.NumberFromString }))
      )
      return deleted
    })

    /**
     * The position a consumer of the log has reached (created at the log's
     * head the first time a name is asked for).
     */
    const cursor = Effect.fn("EventLog.cursor")(function*(name: string) {
      yield* sql`INSERT INTO log_cursors (name, position) SELECT ${name}, position FROM event_log_state
        ON CONFLICT (name) DO NOTHING`
      const rows = yield* sql<{ position: string }>`SELECT position FROM log_cursors WHERE name = ${name}`
      return Number(rows[0]?.position ?? 0)
    })

    /** Moves a consumer's position forward (never back). */
    const saveCursor = Effect.fn("EventLog.saveCursor")(function*(name: string, position: number) {
      yield* sql`UPDATE log_cursors SET position = GREATEST(position, ${position}), updated_at = now() WHERE name = ${name}`
    })

    return { append, head, readAfter, replay, prune, cursor, saveCursor } as const
  })
}) {}
