/**
 * A room's pinboard: notes and pinned messages, every version of a note's
 * text, and the `pin.*` events, appended in the same transaction as the
 * change. Who may change a pin is the caller's decision (`authorize`); this
 * module keeps what holds for everyone: pins belong to one room, only notes
 * are edited, an archived room's board is read-only, a message is pinned once.
 */
import { SqlClient } from "@effect/sql"
import { Conflict, type Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import { Audience, PinCreated, PinDeleted, PinUpdated } from "@troupe/domain/Event"
import { MessageId, type OrgId, PinId, RoomId } from "@troupe/domain/Ids"
import { MemberKind } from "@troupe/domain/Org"
import { MAX_PINS_LISTED, Pin, PinVersion } from "@troupe/domain/Pin"
import { Effect, Option, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import { orgScope } from "./OrgScope.js"

/** Who pins or edits: a person or a teammate, with the name shown. */
export interface PinAuthor {
  readonly kind: MemberKind
  readonly id: string
  readonly name: string
}

/** What to pin: a note's text, or a message of the room. */
export type PinInput = { readonly text: string } | { readonly messageId: MessageId }

/** Decides whether the caller may change `pin` (edit or remove it); fails with `Forbidden` if not. */
export type Authorize = (pin: Pin) => Effect.Effect<void, Forbidden>

const PinRow = Schema.Struct({
  ...Pin.fields,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf
})
const maybePin = Rows.first("pin", PinRow)
const VersionRow = Schema.Struct({ ...PinVersion.fields, editedAt: Schema.DateFromSelf })
const RoomGate = Schema.Struct({ archived: Schema.Boolean })
const Pinned = Schema.Struct({ roomId: RoomId, text: Schema.String, deleted: Schema.Boolean })
const Inserted = Schema.Struct({ id: PinId })

const toPin = (row: typeof PinRow.Type) => new Pin(row, true)

const audienceOf = (roomId: RoomId) => new Audience({ roomId, orgWide: false, userIds: [] })

/** Pins and their history. */
export class PinRepo extends Effect.Service<PinRepo>()("@troupe/store/PinRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog

    // A message pin reads the message's current text (empty once it is deleted).
    const select = sql`
      SELECT p.id, p.org_id, p.room_id, p.kind,
        CASE WHEN p.kind = 'message' THEN COALESCE(m.text, '') ELSE p.text END AS text,
        p.message_id, p.author_kind, p.author_id, p.author_name, p.version, p.created_at, p.updated_at
      FROM pins p LEFT JOIN messages m ON m.id = p.message_id`

    /** The pin, which must be in `roomId`; locked for the transaction with `lock`. */
    const load = (roomId: RoomId, id: PinId, lock = false) =>
      sql`${select} WHERE p.id = ${id} ${lock ? sql`FOR UPDATE OF p` : sql``}`.pipe(
        maybePin,
        Effect.flatMap((found) =>
          Option.isNone(found) || found.value.roomId !== roomId
            ? Effect.fail(NotFound.of("pin", id))
            : Effect.succeed(toPin(found.value))
        )
      )

    /** The room, which must exist and take changes to its board (not archived). */
    const openRoom = (roomId: RoomId) =>
      Effect.gen(function*() {
        const gate = yield* sql`SELECT archived_at IS NOT NULL AS archived FROM rooms WHERE id = ${roomId} FOR SHARE`
          .pipe(Rows.first("room", RoomGate))
        if (Option.isNone(gate)) return yield* NotFound.of("room", roomId)
        if (gate.value.archived) {
          return yield* new Conflict({ message: "the room is archived; its pinboard cannot change" })
        }
      })

    const writeVersion = (orgId: OrgId, pin: Pin, editor: PinAuthor, text: string) =>
      sql`INSERT INTO pin_versions (org_id, pin_id, version, text, editor_kind, editor_id, editor_name)
        VALUES (${orgId}, ${pin.id}, ${pin.version}, ${text}, ${editor.kind}, ${editor.id}, ${editor.name})`

    /** Pins a note or a message of the room; a message already pinned there is a `Conflict`. */
    const create = Effect.fn("PinRepo.create")(
      function*(orgId: OrgId, roomId: RoomId, author: PinAuthor, input: PinInput) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          yield* openRoom(roomId)
          let text: string
          let messageId: MessageId | null = null
          if ("messageId" in input) {
            const found = yield* sql`
              SELECT room_id, text, deleted_at IS NOT NULL AS deleted FROM messages WHERE id = ${input.messageId}`.pipe(
              Rows.first("message", Pinned)
            )
            if (Option.isNone(found) || found.value.roomId !== roomId) {
              return yield* NotFound.of("message", input.messageId)
            }
            if (found.value.deleted) return yield* new Conflict({ message: "a deleted message cannot be pinned" })
            text = found.value.text
            messageId = input.messageId
          } else {
            text = input.text
          }
          const inserted = yield* sql`
            INSERT INTO pins (org_id, room_id, kind, text, message_id, author_kind, author_id, author_name)
            VALUES (${orgId}, ${roomId}, ${messageId === null ? "note" : "message"}, ${text}, ${messageId},
              ${author.kind}, ${author.id}, ${author.name})
            ON CONFLICT (room_id, message_id) WHERE message_id IS NOT NULL DO NOTHING
            RETURNING id`.pipe(Rows.first("pin", Inserted))
          if (Option.isNone(inserted)) {
            return yield* new Conflict({ message: "that message is already pinned in this room" })
          }
          const pin = yield* load(roomId, inserted.value.id)
          yield* writeVersion(orgId, pin, author, text)
          yield* log.append(orgId, [{ audience: audienceOf(roomId), event: new PinCreated({ pin }) }])
          return pin
        }))
      }
    )

    /** The room's pins, oldest first (at most `limit`). */
    const list = Effect.fn("PinRepo.list")(function*(orgId: OrgId, roomId: RoomId, limit = MAX_PINS_LISTED) {
      const rows = yield* withOrg(orgId)(
        sql`${select} WHERE p.room_id = ${roomId} ORDER BY p.created_at, p.id LIMIT ${limit}`.pipe(
          Rows.all("pin", PinRow)
        )
      )
      return rows.map(toPin)
    })

    /**
     * Gives a note new text as its next version. With `expectedVersion`, an
     * edit of a version that is no longer the latest is a `Conflict`. The
     * same text again changes nothing.
     */
    const edit = Effect.fn("PinRepo.edit")(function*(
      orgId: OrgId,
      roomId: RoomId,
      id: PinId,
      editor: PinAuthor,
      change: { readonly text: string; readonly expectedVersion?: number | undefined; readonly authorize: Authorize }
    ) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        yield* openRoom(roomId)
        const current = yield* load(roomId, id, true)
        yield* change.authorize(current)
        if (current.kind !== "note") {
          return yield* new InvalidInput({
            message: "only notes are edited; a pinned message changes with the message"
          })
        }
        if (change.expectedVersion !== undefined && change.expectedVersion !== current.version) {
          return yield* new Conflict({
            message: `the note is at version ${current.version}, not ${change.expectedVersion}; read it again`
          })
        }
        if (current.text === change.text) return current
        yield* sql`UPDATE pins SET text = ${change.text}, version = version + 1, updated_at = now() WHERE id = ${id}`
        const pin = yield* load(roomId, id)
        yield* writeVersion(orgId, pin, editor, change.text)
        yield* log.append(orgId, [{ audience: audienceOf(roomId), event: new PinUpdated({ pin }) }])
        return pin
      }))
    })

    /** Every version of a pin's text, oldest first. */
    const versions = Effect.fn("PinRepo.versions")(function*(orgId: OrgId, roomId: RoomId, id: PinId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        yield* load(roomId, id)
        const rows = yield* sql`
          SELECT version, text, editor_kind, editor_id, editor_name, edited_at FROM pin_versions
          WHERE pin_id = ${id} ORDER BY version`.pipe(Rows.all("pin version", VersionRow))
        return rows.map((r) => new PinVersion(r, true))
      }))
    })

    /** Removes a pin and its history. */
    const remove = Effect.fn("PinRepo.remove")(
      function*(orgId: OrgId, roomId: RoomId, id: PinId, authorize: Authorize) {
        yield* withOrg(orgId)(Effect.gen(function*() {
          yield* openRoom(roomId)
          const current = yield* load(roomId, id, true)
          yield* authorize(current)
          yield* sql`DELETE FROM pins WHERE id = ${id}`
          yield* log.append(orgId, [{ audience: audienceOf(roomId), event: new PinDeleted({ roomId, pinId: id }) }])
        }))
      }
    )

    return { create, list, edit, versions, remove } as const
  }),
  dependencies: [EventLog.Default]
}) {}
