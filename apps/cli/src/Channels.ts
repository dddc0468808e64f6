/**
 * `troupe channels`: the org's channel accounts of the messaging gateway
 * (docs/api.md, "Channels"): listing, connecting a Slack workspace, a
 * Telegram bot or a Standard Webhooks sender, enabling, disabling and
 * removing one, its bridges to rooms, and `tail`, which follows an account's
 * traffic in and out. Admins only; the server's refusal is exit 2.
 */
import { Args, Command, Options } from "@effect/cli"
import { type Bridge, type ChannelAccount, ChannelAccountId, type ChannelTraffic } from "@troupe/domain/Channel"
import type { OrgId } from "@troupe/domain/Ids"
import { Console, Duration, Effect, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { dim, listing } from "./Output.js"
import { anOrg, Failure, given, inGroup, json, orgOption, pickOne, pickRoom, type Session, url } from "./Session.js"

const record = (a: ChannelAccount) => ({
  id: a.id,
  kind: a.kind,
  name: a.name,
  enabled: a.enabled,
  tokenHint: a.tokenHint,
  lastInboundAt: a.health.lastInboundAt,
  lastOutboundAt: a.health.lastOutboundAt,
  lastError: a.health.lastError,
  queueDepth: a.health.queueDepth
})

/** An account's state for people: disabled, its last error, or how many messages wait. */
const stateOf = (a: ChannelAccount) =>
  !a.enabled
    ? "disabled"
    : a.health.lastError !== null
    ? `failing: ${a.health.lastError}`
    : `${a.health.queueDepth} queued`

const list = (input: { url: Option.Option<string>; org: Option.Option<string>; json: boolean }) =>
  Effect.gen(function*() {
    const { org, s } = yield* anOrg(input)
    const accounts = yield* s.call(s.api.channels.list({ path: { org: org.id } }))
    yield* listing(
      input.json,
      accounts,
      ["NAME", "KIND", "STATE", "ID"],
      (a) => [a.name, a.kind, stateOf(a), a.id],
      record
    )
  })

const group = Command.make("channels", { url, json, org: orgOption }, list)

/** The account `wanted` names (its id or its name) among the org's. */
const accountFor = (s: Session, orgId: OrgId, wanted: string) =>
  Effect.gen(function*() {
    const accounts = yield* s.call(s.api.channels.list({ path: { org: orgId } }))
    const found = yield* pickOne(accounts, wanted, (a) => a.id === wanted || a.name === wanted, "channel account")
    return { account: found, id: ChannelAccountId.make(found.id) }
  })

const accountArg = Args.text({ name: "account" }).pipe(Args.withDescription("the account's id or name"))

/** A secret flag, or its environment variable; never echoed. */
const secret = (flag: string, variable: string, description: string) =>
  Options.redacted(flag).pipe(
    Options.withDescription(`${description} (default: ${variable})`),
    Options.optional,
    Options.map((given) =>
      Option.orElse(Option.map(given, Redacted.value), () => Option.fromNullable(process.env[variable]))
    )
  )

/** A required secret that was not given: a usage error naming the flag and its variable. */
const required = (value: Option.Option<string>, flag: string, variable: string, kind: string) =>
  Option.match(value, {
    onNone: () => Effect.fail(new Failure({ message: `a ${kind} account needs --${flag} (or ${variable})`, code: 1 })),
    onSome: Effect.succeed
  })

const create = Command.make(
  "create",
  {
    url,
    json,
    org: orgOption,
    kind: Args.choice([["slack", "slack"], ["telegram", "telegram"], ["webhook", "webhook"]] as const, {
      name: "kind"
    }),
    name: Args.text({ name: "name" }),
    botToken: secret("bot-token", "TROUPE_BOT_TOKEN", "the bot's token (slack, telegram)"),
    signingSecret: secret(
      "signing-secret",
      "TROUPE_SIGNING_SECRET",
      "Slack's signing secret, or a webhook account's whsec_ secret (made and printed once when not given)"
    ),
    webhookSecret: secret("webhook-secret", "TROUPE_WEBHOOK_SECRET", "the secret_token Telegram will send"),
    botUserId: Options.text("bot-user-id").pipe(
      Options.withDescription("the Slack bot's own user id: its messages are never taken in"),
      Options.optional
    )
  },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      // A webhook account's secret, when none was given: made here, printed once.
      const made = input.kind === "webhook" && Option.isNone(input.signingSecret)
        ? Option.some(`whsec_${randomBytes(32).toString("base64")}`)
        : Option.none()
      const { org, s } = yield* anOrg(input)
      const path = { org: org.id }
      const account = yield* s.call(
        input.kind === "slack"
          ? Effect.flatMap(
            Effect.all({
              botToken: required(input.botToken, "bot-token", "TROUPE_BOT_TOKEN", "slack"),
              signingSecret: required(input.signingSecret, "signing-secret", "TROUPE_SIGNING_SECRET", "slack")
            }),
            (secrets) =>
              s.api.channels.create({
                path,
                payload: { kind: "slack", name: input.name, ...secrets, ...given("botUserId", input.botUserId) }
              })
          )
          : input.kind === "telegram"
          ? Effect.flatMap(
            Effect.all({
              botToken: required(input.botToken, "bot-token", "TROUPE_BOT_TOKEN", "telegram"),
              webhookSecret: required(input.webhookSecret, "webhook-secret", "TROUPE_WEBHOOK_SECRET", "telegram")
            }),
            (secrets) => s.api.channels.create({ path, payload: { kind: "telegram", name: input.name, ...secrets } })
          )
          : s.api.channels.create({
            path,
            payload: {
              kind: "webhook",
              name: input.name,
              signingSecret: Option.getOrElse(Option.orElse(input.signingSecret, () => made), () => "")
            }
          })
      )
      const shown = Option.getOrUndefined(made)
      if (input.json) {
        yield* Console.log(
          JSON.stringify({ ...record(account), ...(shown === undefined ? {} : { signingSecret: shown }) })
        )
        return
      }
      yield* Console.log(`Connected the ${account.kind} account ${account.name} ${dim(account.id)}`)
      if (shown !== undefined) {
        yield* Console.log(`Its signing secret, shown this once (the sender signs with it):\n${shown}`)
      }
    }))
).pipe(Command.withDescription("connect a Slack workspace, a Telegram bot or a webhook sender (admins)"))

/** `enable` and `disable`. */
const toggle = (enabled: boolean) =>
  Command.make(
    enabled ? "enable" : "disable",
    { url, json, org: orgOption, account: accountArg },
    inGroup(group, (input) =>
      Effect.gen(function*() {
        const { org, s } = yield* anOrg(input)
        const { id } = yield* accountFor(s, org.id, input.account)
        const changed = yield* s.call(
          s.api.channels.update({ path: { org: org.id, account: id }, payload: { enabled } })
        )
        yield* Console.log(
          input.json
            ? JSON.stringify(record(changed))
            : `${enabled ? "Enabled" : "Disabled"} ${changed.name} ${dim(changed.id)}`
        )
      }))
  ).pipe(
    Command.withDescription(
      enabled ? "enable an account (admins)" : "disable an account: it takes nothing in and sends nothing (admins)"
    )
  )

const remove = Command.make(
  "delete",
  { url, org: orgOption, account: accountArg },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const { account, id } = yield* accountFor(s, org.id, input.account)
      yield* s.call(s.api.channels.delete({ path: { org: org.id, account: id } }))
      yield* Console.log(`Deleted the account ${account.name} and its bridges ${dim(id)}`)
    }))
).pipe(Command.withDescription("remove an account, its bridges and its queued messages (admins)"))

const bridgeRecord = (b: Bridge) => ({
  id: b.id,
  accountId: b.accountId,
  externalChannel: b.externalChannel,
  roomId: b.roomId,
  createdAt: b.createdAt
})

const bridges = Command.make(
  "bridges",
  { url, json, org: orgOption, account: accountArg },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const { id } = yield* accountFor(s, org.id, input.account)
      const listed = yield* s.call(s.api.channels.bridges({ path: { org: org.id, account: id } }))
      const { rooms } = yield* s.call(s.api.rooms.list({ path: { org: org.id } }))
      const names = new Map(rooms.map((r) => [r.id, `#${r.name}`]))
      yield* listing(
        input.json,
        listed,
        ["CHANNEL", "ROOM", "ID"],
        (b) => [b.externalChannel, names.get(b.roomId) ?? b.roomId, b.id],
        bridgeRecord
      )
    }))
).pipe(Command.withDescription("an account's bridges: which platform channel joins which room (admins)"))

const bridge = Command.make(
  "bridge",
  {
    url,
    json,
    org: orgOption,
    account: accountArg,
    channel: Args.text({ name: "channel" }).pipe(
      Args.withDescription("the platform's channel: a Slack channel id, a Telegram chat id")
    ),
    room: Args.text({ name: "room" })
  },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const { account, id } = yield* accountFor(s, org.id, input.account)
      const { rooms } = yield* s.call(s.api.rooms.list({ path: { org: org.id } }))
      const room = yield* pickRoom(rooms, input.room)
      const made = yield* s.call(s.api.channels.createBridge({
        path: { org: org.id, account: id },
        payload: { externalChannel: input.channel, roomId: room.id }
      }))
      yield* Console.log(
        input.json
          ? JSON.stringify(bridgeRecord(made))
          : `Bridged ${made.externalChannel} of ${account.name} to #${room.name} ${dim(made.id)}`
      )
    }))
).pipe(Command.withDescription("join a platform channel to a room: messages go both ways (admins)"))

const unbridge = Command.make(
  "unbridge",
  {
    url,
    org: orgOption,
    account: accountArg,
    bridge: Args.text({ name: "bridge" }).pipe(Args.withDescription("the bridge's id or its platform channel"))
  },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const { id } = yield* accountFor(s, org.id, input.account)
      const listed = yield* s.call(s.api.channels.bridges({ path: { org: org.id, account: id } }))
      const found = listed.find((b) => b.id === input.bridge || b.externalChannel === input.bridge)
      if (found === undefined) {
        return yield* new Failure({ message: `no bridge ${input.bridge} on the account`, code: 2 })
      }
      yield* s.call(s.api.channels.deleteBridge({ path: { org: org.id, account: id, bridge: found.id } }))
      yield* Console.log(`Removed the bridge of ${found.externalChannel} ${dim(found.id)}`)
    }))
).pipe(Command.withDescription("remove a bridge (admins)"))

/** The most records one read of the traffic gives. */
const TRAFFIC_PAGE = 200

/** A traffic record's identity: its direction, channel, message, action and time (for outbound ones, queued). */
const keyOf = (t: ChannelTraffic) =>
  [t.direction, t.externalChannel, t.messageId ?? "", t.action, t.at.toISOString()].join("|")

/** What of a record can change: an outbound message's status, attempts and error. */
const progressOf = (t: ChannelTraffic) => [t.status, String(t.attempts), t.error ?? ""].join("|")

const trafficRecord = (t: ChannelTraffic) => ({
  direction: t.direction,
  externalChannel: t.externalChannel,
  messageId: t.messageId,
  action: t.action,
  status: t.status,
  attempts: t.attempts,
  error: t.error,
  at: t.at
})

/** One record as a line for people. */
const lineOf = (t: ChannelTraffic) => {
  const time = t.at.toISOString().slice(11, 19)
  const arrow = t.direction === "inbound" ? "in " : "out"
  const tries = t.attempts > 1 ? ` after ${t.attempts} attempts` : ""
  const error = t.error === null ? "" : `: ${t.error}`
  return `${time} ${arrow} ${t.externalChannel} ${t.action} ${t.status}${tries}${error} ${dim(t.messageId ?? "")}`
    .trimEnd()
}

const tail = Command.make(
  "tail",
  {
    url,
    json,
    org: orgOption,
    account: accountArg,
    lines: Options.integer("lines").pipe(
      Options.withDescription("how many of the latest records to show first (default 10)"),
      Options.withDefault(10)
    ),
    count: Options.integer("count").pipe(
      Options.withDescription("stop after printing this many lines"),
      Options.optional
    ),
    every: Options.integer("every").pipe(
      Options.withDescription("seconds between two reads of the traffic (default 2)"),
      Options.withDefault(2)
    )
  },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      if (input.lines < 0 || input.every < 1 || (Option.isSome(input.count) && input.count.value < 1)) {
        return yield* new Failure({ message: "--lines is 0 or more, --every and --count 1 or more", code: 1 })
      }
      const { org, s } = yield* anOrg(input)
      const { id } = yield* accountFor(s, org.id, input.account)
      const read = s.call(
        s.api.channels.traffic({ path: { org: org.id, account: id }, urlParams: { limit: TRAFFIC_PAGE } })
      )
      const limit = Option.getOrElse(input.count, () => Number.POSITIVE_INFINITY)
      const seen = new Map<string, string>()
      let printed = 0
      /** Prints what is new or changed since the last read (oldest first); false once `--count` lines are out. */
      const show = (records: ReadonlyArray<ChannelTraffic>, first: boolean) =>
        Effect.gen(function*() {
          const changed = [...records].reverse().filter((t) => seen.get(keyOf(t)) !== progressOf(t))
          for (const t of records) seen.set(keyOf(t), progressOf(t))
          for (const t of first ? changed.slice(Math.max(0, changed.length - input.lines)) : changed) {
            if (printed >= limit) return false
            yield* Console.log(input.json ? JSON.stringify(trafficRecord(t)) : lineOf(t))
            printed++
          }
          return printed < limit
        })
      let going = yield* show(yield* read, true)
      while (going) {
        yield* Effect.sleep(Duration.seconds(input.every))
        going = yield* show(yield* read, false)
      }
    }))
).pipe(
  Command.withDescription(
    "follow an account's traffic in and out: the latest records, then each new one and each change of status"
  )
)

const listCommand = Command.make("list", { url, json, org: orgOption }, inGroup(group, list)).pipe(
  Command.withDescription("the org's channel accounts (also `troupe channels`)")
)

/** `troupe channels [list|create|enable|disable|delete|bridges|bridge|unbridge|tail]`. */
export const channels = group.pipe(
  Command.withDescription("the org's channel accounts (Slack, Telegram, webhooks): connect, bridge, follow"),
  Command.withSubcommands([
    listCommand,
    create,
    toggle(true),
    toggle(false),
    remove,
    bridges,
    bridge,
    unbridge,
    tail
  ])
)
