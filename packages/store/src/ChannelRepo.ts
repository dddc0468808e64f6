/**
 * The messaging gateway's records: channel accounts (credentials stored as
 * the caller encrypted them), bridges, external people, deliveries received
 * (the provider's id is the idempotency key) and the outbox of deliveries to
 * send (one per room message and bridge). Who may change what is the
 * caller's decision; this module keeps what holds for everyone.
 */
import { SqlClient } from "@effect/sql"
import {
  Bridge,
  BridgeId,
  ChannelAccount,
  ChannelAccountId,
  ChannelHealth,
  ChannelKind,
  ChannelTraffic
} from "@troupe/domain/Channel"
import { Conflict, NotFound } from "@troupe/domain/Errors"
import { Audience, MessageDeliveryFailed } from "@troupe/domain/Event"
import { MessageId, OrgId, RoomId } from "@troupe/domain/Ids"
import { Effect, Option, Schema, Struct } from "effect"
import { createHash } from "node:crypto"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import { orgScope } from "./OrgScope.js"

/** A new account, its credentials already encrypted. */
export interface NewChannelAccount {
  readonly id: ChannelAccountId
  readonly kind: ChannelKind
  readonly name: string
  readonly credentials: Uint8Array
  readonly tokenHint: string
  readonly botUserId: string | null
  readonly createdBy: string
}

/** Changes to an account: only the fields given change. */
export interface ChannelAccountChanges {
  readonly name?: string | undefined
  readonly enabled?: boolean | undefined
  readonly credentials?: Uint8Array | undefined
  readonly tokenHint?: string | undefined
  readonly botUserId?: string | undefined
}

/** What the gateway needs of an account to act for it. */
export interface ChannelSecrets {
  readonly id: ChannelAccountId
  readonly orgId: OrgId
  readonly kind: ChannelKind
  readonly enabled: boolean
  readonly credentials: Uint8Array
  readonly botUserId: string | null
}

/** A room message to queue for the bridges of its room, with its place in the event log. */
export interface QueuedMessage {
  readonly id: MessageId
  readonly roomId: RoomId
  readonly threadId: MessageId | null
  readonly authorName: string
  readonly text: string
  /** The position of its `message.created` in the event log: deliveries to one destination go in this order. */
  readonly position: number
}

/** An edit or a deletion of a room message, with its place in the event log. */
export interface MessageChange {
  readonly id: MessageId
  readonly action: "update" | "delete"
  readonly authorName: string
  /** The new text (an edit); null for a deletion. */
  readonly text: string | null
  readonly position: number
}

/** What a delivery does on the platform: post a message, or edit or delete the one it posted. */
export type DeliveryAction = "post" | "update" | "delete"

/** A delivery to send. */
export interface DueDelivery {
  readonly id: string
  readonly action: DeliveryAction
  /** For an edit or a deletion: the platform's id of the message the post became (null if unknown). */
  readonly target: string | null
  readonly orgId: OrgId
  readonly accountId: ChannelAccountId
  readonly kind: ChannelKind
  readonly enabled: boolean
  readonly credentials: Uint8Array
  readonly externalChannel: string
  /** The platform's id of the thread's first message, for a reply in a room thread (once it is known). */
  readonly externalThread: string | null
  readonly authorName: string
  readonly text: string
  readonly attempts: number
}

const AccountRow = Schema.Struct({
  ...Struct.omit(ChannelAccount.fields, "health"),
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf,
  lastInboundAt: Schema.NullOr(Schema.DateFromSelf),
  lastOutboundAt: Schema.NullOr(Schema.DateFromSelf),
  lastError: Schema.NullOr(Schema.String),
  lastErrorAt: Schema.NullOr(Schema.DateFromSelf),
  queueDepth: Schema.NumberFromString
})
const SecretsRow = Schema.Struct({
  id: ChannelAccountId,
  orgId: OrgId,
  kind: ChannelKind,
  enabled: Schema.Boolean,
  credentials: Schema.Uint8ArrayFromSelf,
  botUserId: Schema.NullOr(Schema.String)
})
const BridgeRow = Schema.Struct({
  id: BridgeId,
  accountId: ChannelAccountId,
  externalChannel: Schema.String,
  roomId: RoomId,
  createdAt: Schema.DateFromSelf
})
const OrgRow = Schema.Struct({ orgId: OrgId })
const ThreadRow = Schema.Struct({ messageId: MessageId })
const Pruned = Schema.Struct({ deleted: Schema.NumberFromString })
const Received = Schema.Struct({ providerId: Schema.String })
const IdentityRow = Schema.Struct({ userId: Schema.String, displayName: Schema.String })
const Queued = Schema.Struct({ queued: Schema.Number })
const DueRow = Schema.Struct({
  id: Schema.String,
  action: Schema.Literal("post", "update", "delete"),
  target: Schema.NullOr(Schema.String),
  orgId: OrgId,
  accountId: ChannelAccountId,
  kind: ChannelKind,
  enabled: Schema.Boolean,
  credentials: Schema.Uint8ArrayFromSelf,
  externalChannel: Schema.String,
  externalThread: Schema.NullOr(Schema.String),
  authorName: Schema.String,
  text: Schema.String,
  attempts: Schema.Number
})
const TrafficRow = Schema.Struct({ ...ChannelTraffic.fields, at: Schema.DateFromSelf })

const toAccount = (row: typeof AccountRow.Type) =>
  new ChannelAccount({
    id: row.id,
    kind: row.kind,
    name: row.name,
    enabled: row.enabled,
    tokenHint: row.tokenHint,
    botUserId: row.botUserId,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    health: new ChannelHealth({
      lastInboundAt: row.lastInboundAt,
      lastOutboundAt: row.lastOutboundAt,
      lastError: row.lastError,
      lastErrorAt: row.lastErrorAt,
      queueDepth: row.queueDepth
    })
  }, true)

const toBridge = (row: typeof BridgeRow.Type) => new Bridge(row, true)

/** The longest error text kept on a delivery or an account. */
const MAX_ERROR = 500

/**
 * The handle of an external person's account: the platform and a digest of
 * the org and their platform id, so it is stable, unique and never a
 * person's chosen handle.
 */
const externalHandle = (orgId: OrgId, kind: ChannelKind, externalUser: string) =>
  `${kind}-${createHash("sha256").update(`${orgId}/${kind}/${externalUser}`).digest("hex").slice(0, 16)}`

const FailedRow = Schema.Struct({ messageId: MessageId, roomId: RoomId, name: Schema.String })

/** Channel accounts, bridges, identities, inbound and outbound deliveries. */
export class ChannelRepo extends Effect.Service<ChannelRepo>()("@troupe/store/ChannelRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const log = yield* EventLog
    const { withOrg } = orgScope(sql)

    const selectAccount = sql`
      SELECT a.id, a.kind, a.name, a.enabled, a.token_hint, a.bot_user_id, a.created_at, a.updated_at,
        a.last_inbound_at, a.last_outbound_at, a.last_error, a.last_error_at,
        (SELECT count(*) FROM channel_deliveries d WHERE d.account_id = a.id AND d.status = 'pending') AS queue_depth
      FROM channel_accounts a`

    const load = (id: ChannelAccountId) =>
      sql`${selectAccount} WHERE a.id = ${id}`.pipe(
        Rows.first("channel account", AccountRow),
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(NotFound.of("channel account", id)),
          onSome: (row) => Effect.succeed(toAccount(row))
        }))
      )

    const create = Effect.fn("ChannelRepo.create")(function*(orgId: OrgId, input: NewChannelAccount) {
      return yield* withOrg(orgId)(Effect.zipRight(
        sql`INSERT INTO channel_accounts (id, org_id, kind, name, credentials, token_hint, bot_user_id, created_by)
          VALUES (${input.id}, ${orgId}, ${input.kind}, ${input.name}, ${input.credentials}, ${input.tokenHint},
            ${input.botUserId}, ${input.createdBy})`,
        load(input.id)
      ))
    })

    const list = Effect.fn("ChannelRepo.list")(function*(orgId: OrgId) {
      const rows = yield* withOrg(orgId)(
        sql`${selectAccount} ORDER BY a.created_at, a.id`.pipe(Rows.all("channel account", AccountRow))
      )
      return rows.map(toAccount)
    })

    const get = Effect.fn("ChannelRepo.get")(function*(orgId: OrgId, id: ChannelAccountId) {
      return yield* withOrg(orgId)(load(id))
    })

    /** The account's kind, state and encrypted credentials. */
    const secrets = Effect.fn("ChannelRepo.secrets")(function*(orgId: OrgId, id: ChannelAccountId) {
      const row = yield* withOrg(orgId)(
        sql`SELECT id, org_id, kind, enabled, credentials, bot_user_id FROM channel_accounts WHERE id = ${id}`.pipe(
          Rows.first("channel account", SecretsRow)
        )
      )
      if (Option.isNone(row)) return yield* NotFound.of("channel account", id)
      const found: ChannelSecrets = row.value
      return found
    })

    const update = Effect.fn("ChannelRepo.update")(
      function*(orgId: OrgId, id: ChannelAccountId, changes: ChannelAccountChanges) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const updated = yield* sql`
            UPDATE channel_accounts SET
              name = COALESCE(${changes.name ?? null}, name),
              enabled = COALESCE(${changes.enabled ?? null}::boolean, enabled),
              credentials = COALESCE(${changes.credentials ?? null}::bytea, credentials),
              token_hint = COALESCE(${changes.tokenHint ?? null}, token_hint),
              bot_user_id = COALESCE(${changes.botUserId ?? null}, bot_user_id),
              updated_at = now()
            WHERE id = ${id} RETURNING id`
          if (updated.length === 0) return yield* NotFound.of("channel account", id)
          return yield* load(id)
        }))
      }
    )

    const remove = Effect.fn("ChannelRepo.remove")(function*(orgId: OrgId, id: ChannelAccountId) {
      const deleted = yield* withOrg(orgId)(sql`DELETE FROM channel_accounts WHERE id = ${id} RETURNING id`)
      if (deleted.length === 0) return yield* NotFound.of("channel account", id)
    })

    /** The org a channel account belongs to (a webhook names only the account). */
    const orgOf = Effect.fn("ChannelRepo.orgOf")(function*(id: ChannelAccountId) {
      return Option.map(
        yield* sql`SELECT org_id FROM troupe_channel_account_org(${id})`.pipe(Rows.first("account org", OrgRow)),
        (row) => row.orgId
      )
    })

    /** Joins a platform channel to a room; a channel bridged already on this account is a `Conflict`. */
    const createBridge = Effect.fn("ChannelRepo.createBridge")(
      function*(orgId: OrgId, accountId: ChannelAccountId, externalChannel: string, roomId: RoomId) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const row = yield* sql`
            INSERT INTO channel_bridges (org_id, account_id, external_channel, room_id)
            VALUES (${orgId}, ${accountId}, ${externalChannel}, ${roomId})
            ON CONFLICT (account_id, external_channel) DO NOTHING
            RETURNING id, account_id, external_channel, room_id, created_at`.pipe(Rows.first("bridge", BridgeRow))
          if (Option.isNone(row)) {
            return yield* new Conflict({ message: `channel ${externalChannel} is bridged already on this account` })
          }
          return toBridge(row.value)
        }))
      }
    )

    const bridges = Effect.fn("ChannelRepo.bridges")(function*(orgId: OrgId, accountId: ChannelAccountId) {
      const rows = yield* withOrg(orgId)(
        sql`SELECT id, account_id, external_channel, room_id, created_at FROM channel_bridges
          WHERE account_id = ${accountId} ORDER BY created_at, id`.pipe(Rows.all("bridge", BridgeRow))
      )
      return rows.map(toBridge)
    })

    const removeBridge = Effect.fn("ChannelRepo.removeBridge")(
      function*(orgId: OrgId, accountId: ChannelAccountId, bridgeId: BridgeId) {
        const deleted = yield* withOrg(orgId)(
          sql`DELETE FROM channel_bridges WHERE id = ${bridgeId} AND account_id = ${accountId} RETURNING id`
        )
        if (deleted.length === 0) return yield* NotFound.of("bridge", bridgeId)
      }
    )

    /** The bridge of a platform channel on an account, if it is bridged. */
    const bridgeOf = Effect.fn("ChannelRepo.bridgeOf")(
      function*(orgId: OrgId, accountId: ChannelAccountId, externalChannel: string) {
        const row = yield* withOrg(orgId)(
          sql`SELECT id, account_id, external_channel, room_id, created_at FROM channel_bridges
            WHERE account_id = ${accountId} AND external_channel = ${externalChannel}`.pipe(
            Rows.first("bridge", BridgeRow)
          )
        )
        return Option.map(row, toBridge)
      }
    )

    /**
     * Records a delivery as received; false when it was received before (a
     * retry or a replay). Run it in the transaction that stores its message.
     */
    const receive = Effect.fn("ChannelRepo.receive")(
      function*(
        orgId: OrgId,
        accountId: ChannelAccountId,
        providerId: string,
        externalChannel: string,
        externalMessageId: string | null
      ) {
        const row = yield* withOrg(orgId)(
          sql`INSERT INTO channel_inbound (account_id, provider_id, org_id, external_channel, external_message_id)
            VALUES (${accountId}, ${providerId}, ${orgId}, ${externalChannel}, ${externalMessageId})
            ON CONFLICT (account_id, provider_id) DO NOTHING RETURNING provider_id`.pipe(
            Rows.first("inbound delivery", Received)
          )
        )
        return Option.isSome(row)
      }
    )

    /**
     * The room thread a platform message replying to `externalMessageId` in
     * `externalChannel` belongs in: the thread of the room message that
     * platform message came from or went out as (its root when it is a reply).
     */
    const threadOf = Effect.fn("ChannelRepo.threadOf")(
      function*(orgId: OrgId, accountId: ChannelAccountId, externalChannel: string, externalMessageId: string) {
        const row = yield* withOrg(orgId)(
          sql`SELECT COALESCE(m.thread_id, m.id) AS message_id FROM messages m
            WHERE m.id = (
              SELECT message_id FROM channel_inbound
              WHERE account_id = ${accountId} AND external_channel = ${externalChannel}
                AND external_message_id = ${externalMessageId} AND message_id IS NOT NULL
              UNION ALL
              SELECT message_id FROM channel_deliveries
              WHERE account_id = ${accountId} AND external_channel = ${externalChannel}
                AND external_id = ${externalMessageId}
              LIMIT 1)`.pipe(Rows.first("thread", ThreadRow))
        )
        return Option.map(row, (r) => r.messageId)
      }
    )

    /** Notes the message a received delivery became, and when the account last heard from its platform. */
    const received = Effect.fn("ChannelRepo.received")(
      function*(orgId: OrgId, accountId: ChannelAccountId, providerId: string, messageId: MessageId) {
        yield* withOrg(orgId)(Effect.zipRight(
          sql`UPDATE channel_inbound SET message_id = ${messageId}
            WHERE account_id = ${accountId} AND provider_id = ${providerId}`,
          sql`UPDATE channel_accounts SET last_inbound_at = now() WHERE id = ${accountId}`
        ))
      }
    )

    /**
     * The account an external person of the org writes as, made on first
     * sight (one per org, platform and platform user); their display name
     * follows the platform's latest.
     */
    const identity = Effect.fn("ChannelRepo.identity")(
      function*(orgId: OrgId, kind: ChannelKind, externalUser: string, displayName: string) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          yield* sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${orgId}/${kind}/${externalUser}`}, 0))`
          const known = yield* sql`SELECT user_id, display_name FROM channel_identities
            WHERE org_id = ${orgId} AND kind = ${kind} AND external_user = ${externalUser}`.pipe(
            Rows.first("identity", IdentityRow)
          )
          if (Option.isSome(known)) {
            if (known.value.displayName !== displayName) {
              yield* sql`UPDATE channel_identities SET display_name = ${displayName}
                WHERE org_id = ${orgId} AND kind = ${kind} AND external_user = ${externalUser}`
            }
            return { id: known.value.userId, name: displayName }
          }
          const handle = externalHandle(orgId, kind, externalUser)
          // The handle is derived from the org and the platform id: an earlier
          // identity of a deleted mapping may have left its account behind.
          yield* sql`INSERT INTO users (kind, name, handle) VALUES ('external', ${displayName}, ${handle})
            ON CONFLICT (handle) DO NOTHING`
          const user = yield* sql`SELECT id AS user_id, name AS display_name FROM users WHERE handle = ${handle}`.pipe(
            Rows.one("external user", IdentityRow)
          )
          yield* sql`INSERT INTO channel_identities (org_id, kind, external_user, user_id, display_name)
            VALUES (${orgId}, ${kind}, ${externalUser}, ${user.userId}, ${displayName})`
          return { id: user.userId, name: displayName }
        }))
      }
    )

    /**
     * Queues messages of one org for every bridge of their rooms whose account
     * is enabled (not a generic webhook account, which only takes messages
     * in), except the account each came in through; a message queued for a
     * bridge before is not queued again. One statement for the lot.
     * Returns how many deliveries were queued.
     */
    const enqueue = Effect.fn("ChannelRepo.enqueue")(function*(
      orgId: OrgId,
      messages: ReadonlyArray<QueuedMessage>
    ) {
      if (messages.length === 0) return 0
      // One JSON document, keys in snake case as the recordset below names them.
      const document = JSON.stringify(messages.map((m) => ({
        id: m.id,
        room_id: m.roomId,
        thread_id: m.threadId,
        author_name: m.authorName,
        text: m.text,
        position: m.position
      })))
      // One statement, no transaction: most messages are in rooms with no bridge (troupe_channel_enqueue).
      const { queued } = yield* sql`SELECT troupe_channel_enqueue(${orgId}, ${document}::jsonb) AS queued`.pipe(
        Rows.one("queued deliveries", Queued)
      )
      return queued
    })

    /**
     * Queues edits and deletions of messages of one org for the bridges their
     * messages went out to (a post still waiting takes the new text, or is
     * dropped); one statement for the lot. Returns how many deliveries changed
     * or were queued.
     */
    const enqueueChanges = Effect.fn("ChannelRepo.enqueueChanges")(function*(
      orgId: OrgId,
      changes: ReadonlyArray<MessageChange>
    ) {
      if (changes.length === 0) return 0
      const document = JSON.stringify(changes.map((c) => ({
        id: c.id,
        action: c.action,
        author_name: c.authorName,
        text: c.text,
        position: c.position
      })))
      const { queued } = yield* sql`SELECT troupe_channel_enqueue_changes(${orgId}, ${document}::jsonb) AS queued`.pipe(
        Rows.one("queued changes", Queued)
      )
      return queued
    })

    /** Orgs with deliveries due now. */
    const orgsDue = Effect.fn("ChannelRepo.orgsDue")(function*(limit: number) {
      const rows = yield* sql`SELECT org_id FROM troupe_channel_orgs_due(${limit})`.pipe(Rows.all("due org", OrgRow))
      return rows.map((r) => r.orgId)
    })

    /**
     * An org's deliveries due now, in the order of their messages in the log;
     * none behind an earlier one of the same destination that waits, so a
     * 429's hold and a backoff survive a move of the sender (a disabled
     * account's wait).
     */
    const due = Effect.fn("ChannelRepo.due")(function*(orgId: OrgId, limit: number) {
      const rows: ReadonlyArray<DueDelivery> = yield* withOrg(orgId)(
        sql`SELECT d.id, d.action, d.org_id, d.account_id, a.kind, a.enabled, a.credentials, d.external_channel,
            d.author_name, d.text, d.attempts,
            CASE WHEN d.action = 'post' THEN NULL ELSE
              (SELECT p.external_id FROM channel_deliveries p WHERE p.bridge_id = d.bridge_id
                AND p.message_id = d.message_id AND p.action = 'post' AND p.status = 'sent') END AS target,
            CASE WHEN d.thread_id IS NULL THEN NULL ELSE COALESCE(
              (SELECT i.external_message_id FROM channel_inbound i
                WHERE i.message_id = d.thread_id AND i.account_id = d.account_id
                  AND i.external_channel = d.external_channel LIMIT 1),
              (SELECT r.external_id FROM channel_deliveries r
                WHERE r.message_id = d.thread_id AND r.bridge_id = d.bridge_id AND r.action = 'post'
                  AND r.status = 'sent')) END
              AS external_thread
          FROM channel_deliveries d JOIN channel_accounts a ON a.id = d.account_id
          WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND a.enabled
            -- One destination goes in order: an earlier message waiting (a 429, a backoff) holds the later ones.
            AND NOT EXISTS (SELECT 1 FROM channel_deliveries e
              WHERE e.account_id = d.account_id AND e.external_channel = d.external_channel
                AND e.status = 'pending' AND e.position < d.position AND e.next_attempt_at > now())
          ORDER BY d.position, d.id LIMIT ${limit}`.pipe(Rows.all("delivery", DueRow))
      )
      return rows
    })

    /** A delivery the platform accepted. */
    const sent = Effect.fn("ChannelRepo.sent")(function*(delivery: DueDelivery, externalId: string | null) {
      yield* withOrg(delivery.orgId)(Effect.zipRight(
        sql`UPDATE channel_deliveries SET status = 'sent', attempts = attempts + 1, sent_at = now(),
          external_id = ${externalId}, last_error = NULL WHERE id = ${delivery.id}`,
        sql`UPDATE channel_accounts SET last_outbound_at = now() WHERE id = ${delivery.accountId}`
      ))
    })

    /** A delivery to try again at `at`; `error` says why it did not go now. */
    const retry = Effect.fn("ChannelRepo.retry")(function*(delivery: DueDelivery, at: Date, error: string) {
      yield* withOrg(delivery.orgId)(Effect.zipRight(
        sql`UPDATE channel_deliveries SET attempts = attempts + 1, next_attempt_at = ${at},
          last_error = ${error.slice(0, MAX_ERROR)} WHERE id = ${delivery.id}`,
        sql`UPDATE channel_accounts SET last_error = ${error.slice(0, MAX_ERROR)}, last_error_at = now()
          WHERE id = ${delivery.accountId}`
      ))
    })

    /**
     * A delivery that will never go (a permanent refusal, or too many
     * attempts), with the reason; the room hears of it
     * (`message.delivery_failed`), in the same transaction.
     */
    const failed = Effect.fn("ChannelRepo.failed")(function*(delivery: DueDelivery, error: string) {
      const reason = error.slice(0, MAX_ERROR)
      yield* withOrg(delivery.orgId)(Effect.gen(function*() {
        const rows = yield* sql`UPDATE channel_deliveries d SET status = 'failed', attempts = attempts + 1,
            last_error = ${reason}
          FROM channel_bridges b, channel_accounts a
          WHERE d.id = ${delivery.id} AND d.status = 'pending' AND b.id = d.bridge_id AND a.id = d.account_id
          RETURNING d.message_id, b.room_id, a.name`.pipe(Rows.all("failed delivery", FailedRow))
        yield* sql`UPDATE channel_accounts SET last_error = ${reason}, last_error_at = now()
          WHERE id = ${delivery.accountId}`
        yield* log.append(
          delivery.orgId,
          rows.map((row) => ({
            audience: new Audience({ roomId: row.roomId, orgWide: false, userIds: [] }, true),
            event: new MessageDeliveryFailed({
              messageId: row.messageId,
              roomId: row.roomId,
              action: delivery.action,
              channel: {
                accountId: delivery.accountId,
                kind: delivery.kind,
                name: row.name,
                externalChannel: delivery.externalChannel
              },
              reason
            })
          }))
        )
      }))
    })

    /**
     * Forgets received deliveries and finished (sent or failed) deliveries
     * older than `retentionSeconds`, in every org; returns how many rows went.
     */
    const prune = Effect.fn("ChannelRepo.prune")(function*(retentionSeconds: number) {
      const { deleted } =
        yield* sql`SELECT deleted FROM troupe_channel_prune(${`${retentionSeconds} seconds`}::interval)`
          .pipe(Rows.one("pruned count", Pruned))
      return deleted
    })

    /** The account's latest traffic, in and out, newest first. */
    const traffic = Effect.fn("ChannelRepo.traffic")(
      function*(orgId: OrgId, accountId: ChannelAccountId, limit: number) {
        const rows = yield* withOrg(orgId)(
          sql`SELECT * FROM (
              SELECT 'inbound' AS direction, external_channel, message_id, 'post' AS action, 'received' AS status,
                0 AS attempts, NULL::text AS error, received_at AS at, NULL::bigint AS position
              FROM channel_inbound WHERE account_id = ${accountId}
              UNION ALL
              SELECT 'outbound', external_channel, message_id, action, status, attempts, last_error, created_at,
                position
              FROM channel_deliveries WHERE account_id = ${accountId}) t
            ORDER BY at DESC, position DESC NULLS LAST LIMIT ${limit}`.pipe(Rows.all("traffic", TrafficRow))
        )
        return rows.map((row) => new ChannelTraffic(row, true))
      }
    )

    return {
      create,
      list,
      get,
      secrets,
      update,
      remove,
      orgOf,
      createBridge,
      bridges,
      removeBridge,
      bridgeOf,
      receive,
      received,
      threadOf,
      identity,
      enqueue,
      enqueueChanges,
      orgsDue,
      due,
      sent,
      retry,
      failed,
      traffic,
      prune,
      withOrg
    } as const
  }),
  dependencies: [EventLog.Default]
}) {}
