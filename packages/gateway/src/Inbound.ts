/**
 * Deliveries from the platforms, and from any system that signs its
 * deliveries as Standard Webhooks do. Each is checked against its account's
 * secret over the raw body before anything is read, then stored in its
 * bridged room in one transaction with its provider id, so a retried or
 * replayed delivery is acknowledged and stored once. Nothing slow happens
 * here: teammates hear of the message from the event log, like any other.
 */
import type { ChannelAccountId, ChannelKind } from "@troupe/domain/Channel"
import { GatewayAck } from "@troupe/domain/Channel"
import { MalformedRequest, NotFound } from "@troupe/domain/Errors"
import type { OrgId } from "@troupe/domain/Ids"
import { MAX_MESSAGE_LENGTH } from "@troupe/domain/Message"
import { ChannelRepo, type ChannelSecrets } from "@troupe/store/ChannelRepo"
import { MessageRepo } from "@troupe/store/MessageRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { orUnavailable } from "@troupe/workspace/Unavailable"
import { Clock, Config, Effect, FiberSet, Option, ParseResult, Schema } from "effect"
import { ChannelKey } from "./ChannelKey.js"
import { SlackCredentials, TelegramCredentials, WebhookCredentials } from "./Credentials.js"
import * as GatewayMetrics from "./GatewayMetrics.js"
import { Media, type MediaTarget, type PlatformFile } from "./Media.js"
import * as Slack from "./Slack.js"
import * as SlackUsers from "./SlackUsers.js"
import * as StandardWebhooks from "./StandardWebhooks.js"
import * as Telegram from "./Telegram.js"

/** A message from a platform, about to be stored in its bridged room. */
export interface InboundMessage {
  /** The provider's id of the delivery: the idempotency key. */
  readonly providerId: string
  readonly channel: string
  readonly user: string
  readonly name: string
  readonly text: string
  /** The platform's id of the message (a Slack `ts`, a Telegram `message_id`). */
  readonly externalId: string | null
  /** The platform message it replies to (a Slack `thread_ts`, a Telegram reply), if any. */
  readonly replyTo: string | null
  /** The files it carries, fetched after it is stored. */
  readonly files: ReadonlyArray<PlatformFile>
}

const acknowledged = new GatewayAck({ ok: true })
const stored = new GatewayAck({ ok: true })
const duplicate = new GatewayAck({ ok: true, duplicate: true })
/** A delivery to a room that takes nothing any more: done, nothing stored. */
const dropped = { fresh: true, target: Option.none<MediaTarget>() }

/** What became of a delivery, for `troupe_gateway_inbound_total`. */
const outcomeOf = (ack: GatewayAck) => ack === stored ? "stored" : ack === duplicate ? "duplicate" : "ignored"

const refusals: Record<string, string> = {
  Unauthorized: "unauthorized",
  NotFound: "not_found",
  MalformedRequest: "malformed",
  Unavailable: "unavailable"
}

/** Counts each delivery by its outcome, refusals by their kind. */
const measured =
  (platform: ChannelKind) =>
  <A extends GatewayAck, E extends { readonly _tag: string }, R>(self: Effect.Effect<A, E, R>) =>
    Effect.tapBoth(self, {
      onSuccess: (ack) => GatewayMetrics.count(GatewayMetrics.inbound, platform, outcomeOf(ack)),
      onFailure: (e) => GatewayMetrics.count(GatewayMetrics.inbound, platform, refusals[e._tag] ?? "other")
    })

const malformed = (what: string) => (e: ParseResult.ParseError) => {
  const [first] = ParseResult.ArrayFormatter.formatErrorSync(e)
  const where = first === undefined || first.path.length === 0 ? "" : ` (at ${first.path.join(".")})`
  return new MalformedRequest({ message: `the body is not ${what}${where}` })
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true })

/** The body as JSON, or `MalformedRequest`. */
const parseBody = (body: Uint8Array) =>
  Effect.try({
    try: (): unknown => JSON.parse(fatalUtf8.decode(body)),
    catch: () => new MalformedRequest({ message: "the body is not UTF-8 JSON" })
  })

/**
 * Deliveries to one account handled at once on a node
 * (`GATEWAY_INBOUND_PER_ACCOUNT`, default 2); the account's others wait their
 * turn before they touch the database, so one account's burst cannot take the
 * connections every other account's deliveries need.
 */
export const InboundPerAccount = Config.integer("GATEWAY_INBOUND_PER_ACCOUNT").pipe(
  Config.withDefault(2),
  Config.validate({ message: "GATEWAY_INBOUND_PER_ACCOUNT must be at least 1", validation: (n) => n >= 1 })
)

/** Webhook deliveries from Slack, Telegram and generic webhook senders. */
export class Inbound extends Effect.Service<Inbound>()("@troupe/gateway/Inbound", {
  scoped: Effect.gen(function*() {
    const repo = yield* ChannelRepo
    const rooms = yield* RoomRepo
    const messages = yield* MessageRepo
    const key = yield* ChannelKey
    const openSlack = key.open(SlackCredentials)
    const openTelegram = key.open(TelegramCredentials)
    const openWebhook = key.open(WebhookCredentials)
    const slackUsers = yield* SlackUsers.make
    const media = yield* Media
    // Files being fetched after their deliveries were acknowledged; interrupted when the server stops.
    const fetching = yield* FiberSet.make()
    const perAccount = yield* InboundPerAccount
    // A lane per account with deliveries in hand (gone when the last is done): `perAccount` at a time.
    const lanes = new Map<ChannelAccountId, { readonly semaphore: Effect.Semaphore; users: number }>()
    const inLane = <A, E, R>(effect: Effect.Effect<A, E, R>, accountId: ChannelAccountId) =>
      Effect.suspend(() => {
        const lane = lanes.get(accountId) ?? { semaphore: Effect.unsafeMakeSemaphore(perAccount), users: 0 }
        lanes.set(accountId, lane)
        lane.users++
        return lane.semaphore.withPermits(1)(effect).pipe(Effect.ensuring(Effect.sync(() => {
          if (--lane.users === 0) lanes.delete(accountId)
        })))
      })

    /** The account a webhook names, of the kind its route is for; unknown ones are 404. */
    const accountFor = (accountId: ChannelAccountId, kind: ChannelKind) =>
      Effect.gen(function*() {
        const orgId = yield* orUnavailable(repo.orgOf(accountId))
        if (Option.isNone(orgId)) return yield* NotFound.of("channel account", accountId)
        const account = yield* orUnavailable(repo.secrets(orgId.value, accountId))
        if (account.kind !== kind) return yield* NotFound.of(`${kind} channel account`, accountId)
        return account
      })

    /** A disabled account takes no deliveries (checked after the signature, so only its platform learns it). */
    const requireEnabled = (account: ChannelSecrets) =>
      account.enabled
        ? Effect.void
        : Effect.fail(
          new NotFound({ resource: "channel account", message: `channel account ${account.id} is disabled` })
        )

    /**
     * Stores a message in the room its channel is bridged to, authored by the
     * sender's external identity, with its provider id, in one transaction.
     * A channel that is not bridged, or a room that takes no messages any
     * more, is acknowledged and nothing is stored. The message's files are
     * fetched afterwards (with `token`), and attached when they are in.
     */
    const store = (orgId: OrgId, account: ChannelSecrets, message: InboundMessage, token: string) =>
      Effect.gen(function*() {
        const bridge = yield* orUnavailable(repo.bridgeOf(orgId, account.id, message.channel))
        if (Option.isNone(bridge)) return acknowledged
        const outcome = yield* repo.withOrg(orgId)(Effect.gen(function*() {
          const first = yield* repo.receive(
            orgId,
            account.id,
            message.providerId,
            message.channel,
            message.externalId
          )
          if (!first) return { fresh: false, target: Option.none<MediaTarget>() }
          const author = yield* repo.identity(orgId, account.kind, message.user, message.name)
          const room = yield* rooms.info(orgId, bridge.value.roomId)
          // A reply in a platform thread goes in the room thread of the thread's first message, when it is known.
          const thread = message.replyTo === null || message.replyTo === message.externalId
            ? Option.none()
            : yield* repo.threadOf(orgId, account.id, message.channel, message.replyTo)
          const posted = yield* messages.post(room, { kind: "user", id: author.id, name: author.name }, {
            text: message.text.slice(0, MAX_MESSAGE_LENGTH),
            threadId: Option.getOrUndefined(thread)
          })
          yield* repo.received(orgId, account.id, message.providerId, posted.message.id)
          const target: MediaTarget = { room, author: { kind: "user", ...author }, messageId: posted.message.id, token }
          return { fresh: true, target: Option.some(target) }
        })).pipe(
          orUnavailable,
          Effect.catchTags({
            // The room was archived or deleted: the platform's delivery is done, the room takes nothing.
            Conflict: (e) =>
              Effect.as(Effect.logWarning(`gateway: delivery to a closed room dropped: ${e.message}`), dropped),
            NotFound: (e) =>
              Effect.as(Effect.logWarning(`gateway: delivery to a missing room dropped: ${e.message}`), dropped)
          })
        )
        if (!outcome.fresh) return duplicate
        if (Option.isSome(outcome.target) && message.files.length > 0) {
          yield* FiberSet.run(fetching, media.bring(outcome.target.value, message.files))
        }
        return stored
      })

    /** A Slack Events API delivery: signature, then URL check or a message event. */
    const slack = Effect.fn("Inbound.slack")(
      function*(
        accountId: ChannelAccountId,
        headers: { readonly timestamp: string | undefined; readonly signature: string | undefined },
        body: Uint8Array
      ) {
        const account = yield* accountFor(accountId, "slack")
        const credentials = yield* openSlack(accountId, account.credentials)
        const now = yield* Clock.currentTimeMillis
        yield* Slack.verifySignature(credentials.signingSecret, headers, body, Math.floor(now / 1000))
        yield* requireEnabled(account)
        const json = yield* parseBody(body)
        const delivery = yield* Schema.decodeUnknown(Slack.Delivery)(json).pipe(
          Effect.mapError(malformed("a Slack Events API delivery"))
        )
        if (Schema.is(Slack.UrlVerification)(delivery)) {
          return new GatewayAck({ ok: true, challenge: delivery.challenge })
        }
        if (!Schema.is(Slack.EventCallback)(delivery)) return acknowledged
        const message = Slack.personMessage(delivery.event, account.botUserId)
        if (message === undefined) return acknowledged
        const name = message.name ?? (yield* slackUsers.nameOf(account.id, credentials.botToken, message.user))
        return yield* store(
          account.orgId,
          account,
          { ...message, name, providerId: delivery.event_id },
          credentials.botToken
        )
      },
      inLane,
      measured("slack")
    )

    /** A Telegram webhook update: secret token, then a message of a person. */
    const telegram = Effect.fn("Inbound.telegram")(
      function*(
        accountId: ChannelAccountId,
        secretToken: string | undefined,
        body: Uint8Array
      ) {
        const account = yield* accountFor(accountId, "telegram")
        const credentials = yield* openTelegram(accountId, account.credentials)
        yield* Telegram.verifySecret(credentials.webhookSecret, secretToken)
        yield* requireEnabled(account)
        const json = yield* parseBody(body)
        const update = yield* Schema.decodeUnknown(Telegram.Update)(json).pipe(
          Effect.mapError(malformed("a Telegram update"))
        )
        const message = Telegram.personMessage(update)
        if (message === undefined) return acknowledged
        return yield* store(
          account.orgId,
          account,
          { ...message, providerId: String(update.update_id) },
          credentials.botToken
        )
      },
      inLane,
      measured("telegram")
    )

    /**
     * A Standard Webhooks delivery from any system: signature over the raw
     * body (5-minute window), then one message; `webhook-id` is the
     * idempotency key.
     */
    const webhook = Effect.fn("Inbound.webhook")(
      function*(
        accountId: ChannelAccountId,
        headers: StandardWebhooks.ReceivedHeaders,
        body: Uint8Array
      ) {
        const account = yield* accountFor(accountId, "webhook")
        const credentials = yield* openWebhook(accountId, account.credentials)
        const text = yield* Effect.try({
          try: () => fatalUtf8.decode(body),
          catch: () => new MalformedRequest({ message: "the body is not UTF-8" })
        })
        const providerId = yield* StandardWebhooks.verify(credentials.signingSecret, headers, text)
        yield* requireEnabled(account)
        const json = yield* parseBody(body)
        const message = yield* Schema.decodeUnknown(StandardWebhooks.InboundMessage)(json).pipe(
          Effect.mapError(malformed("a webhook message"))
        )
        return yield* store(account.orgId, account, {
          providerId,
          channel: message.channel,
          user: message.user.id,
          name: message.user.name ?? message.user.id,
          text: message.text,
          externalId: message.messageId ?? null,
          replyTo: message.replyTo ?? null,
          files: []
        }, "")
      },
      inLane,
      measured("webhook")
    )

    return { slack, telegram, webhook } as const
  }),
  dependencies: [ChannelRepo.Default, RoomRepo.Default, ChannelKey.Default, Media.Default]
}) {}
