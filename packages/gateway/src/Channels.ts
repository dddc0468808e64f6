/**
 * The gateway's admin plane: an org's admins connect channel accounts
 * (credentials encrypted, never shown again), enable, disable, rotate their
 * secrets, remove them, bridge platform channels to rooms and read an
 * account's traffic (docs/access.md).
 */
import type { Caller } from "@troupe/domain/Caller"
import {
  type BridgeId,
  ChannelAccountId,
  type ChannelKind,
  type CreateBridgeRequest,
  type CreateChannelRequest,
  StandardWebhookSecret,
  type UpdateChannelRequest
} from "@troupe/domain/Channel"
import { InvalidInput } from "@troupe/domain/Errors"
import type { OrgId } from "@troupe/domain/Ids"
import { ChannelRepo } from "@troupe/store/ChannelRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Access } from "@troupe/workspace/Access"
import { orUnavailable } from "@troupe/workspace/Unavailable"
import { Effect, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { ChannelKey } from "./ChannelKey.js"
import { Credentials, hintOf, SlackCredentials, TelegramCredentials, WebhookCredentials } from "./Credentials.js"

/** A field of an update that does not apply to an account of `kind`, if the update names one. */
const foreignField = (kind: ChannelKind, input: UpdateChannelRequest) => {
  const applies: Record<ChannelKind, ReadonlyArray<keyof UpdateChannelRequest>> = {
    slack: ["botToken", "signingSecret", "botUserId"],
    telegram: ["botToken", "webhookSecret"],
    webhook: ["signingSecret"]
  }
  const secrets = ["botToken", "signingSecret", "webhookSecret", "botUserId"] as const
  return secrets.find((field) => input[field] !== undefined && !applies[kind].includes(field))
}

/** The account's credentials with the secrets an update rotates replaced. */
const rotated = (old: Credentials, input: UpdateChannelRequest): Credentials => {
  switch (old.kind) {
    case "slack":
      return new SlackCredentials({
        kind: "slack",
        botToken: input.botToken ?? old.botToken,
        signingSecret: input.signingSecret ?? old.signingSecret
      })
    case "telegram":
      return new TelegramCredentials({
        kind: "telegram",
        botToken: input.botToken ?? old.botToken,
        webhookSecret: input.webhookSecret ?? old.webhookSecret
      })
    case "webhook":
      return new WebhookCredentials({ kind: "webhook", signingSecret: input.signingSecret ?? old.signingSecret })
  }
}

/** The most traffic entries one tail returns. */
export const MAX_TAIL = 200

/** The channel-account use cases. */
export class Channels extends Effect.Service<Channels>()("@troupe/gateway/Channels", {
  effect: Effect.gen(function*() {
    const repo = yield* ChannelRepo
    const rooms = yield* RoomRepo
    const access = yield* Access
    const key = yield* ChannelKey
    const openCredentials = key.open(Credentials)

    const admin = (caller: Caller, orgId: OrgId) => access.orgRole(caller, orgId, "admin", "managing channel accounts")

    /** Connects an account; its credentials are encrypted before they are stored. */
    const create = Effect.fn("Channels.create")(function*(caller: Caller, orgId: OrgId, input: CreateChannelRequest) {
      const a = yield* admin(caller, orgId)
      const id = ChannelAccountId.make(randomUUID())
      const credentials = input.kind === "slack"
        ? new SlackCredentials({ kind: "slack", botToken: input.botToken, signingSecret: input.signingSecret })
        : input.kind === "telegram"
        ? new TelegramCredentials({ kind: "telegram", botToken: input.botToken, webhookSecret: input.webhookSecret })
        : new WebhookCredentials({ kind: "webhook", signingSecret: input.signingSecret })
      const sealed = yield* key.seal(id, credentials)
      return yield* orUnavailable(repo.create(orgId, {
        id,
        kind: input.kind,
        name: input.name,
        credentials: sealed,
        tokenHint: hintOf(input.kind === "webhook" ? input.signingSecret : input.botToken),
        botUserId: input.kind === "slack" ? input.botUserId ?? null : null,
        createdBy: a.user.id
      }))
    })

    const list = Effect.fn("Channels.list")(function*(caller: Caller, orgId: OrgId) {
      yield* admin(caller, orgId)
      return yield* orUnavailable(repo.list(orgId))
    })

    const get = Effect.fn("Channels.get")(function*(caller: Caller, orgId: OrgId, id: ChannelAccountId) {
      yield* admin(caller, orgId)
      return yield* orUnavailable(repo.get(orgId, id))
    })

    /** Renames, enables, disables or rotates secrets; a secret of the other kind of account is 422. */
    const update = Effect.fn("Channels.update")(
      function*(caller: Caller, orgId: OrgId, id: ChannelAccountId, input: UpdateChannelRequest) {
        yield* admin(caller, orgId)
        const current = yield* orUnavailable(repo.secrets(orgId, id))
        const foreign = foreignField(current.kind, input)
        if (foreign !== undefined) {
          return yield* new InvalidInput({ message: `${foreign} does not apply to a ${current.kind} account` })
        }
        if (
          current.kind === "webhook" && input.signingSecret !== undefined &&
          !Schema.is(StandardWebhookSecret)(input.signingSecret)
        ) {
          return yield* new InvalidInput({
            message: "a webhook account's signingSecret is whsec_ followed by at least 24 bytes in base64"
          })
        }
        const rotates = input.botToken !== undefined || input.signingSecret !== undefined ||
          input.webhookSecret !== undefined
        let credentials: Uint8Array | undefined
        if (rotates) {
          const old = yield* openCredentials(id, current.credentials)
          credentials = yield* key.seal(id, rotated(old, input))
        }
        const hinted = current.kind === "webhook" ? input.signingSecret : input.botToken
        return yield* orUnavailable(repo.update(orgId, id, {
          name: input.name,
          enabled: input.enabled,
          credentials,
          tokenHint: hinted === undefined ? undefined : hintOf(hinted),
          botUserId: input.botUserId
        }))
      }
    )

    /** Removes the account, its bridges and its queued deliveries. */
    const remove = Effect.fn("Channels.remove")(function*(caller: Caller, orgId: OrgId, id: ChannelAccountId) {
      yield* admin(caller, orgId)
      yield* orUnavailable(repo.remove(orgId, id))
    })

    /** Bridges a platform channel to a room of the org (any room: admins decide what goes out). */
    const createBridge = Effect.fn("Channels.createBridge")(
      function*(caller: Caller, orgId: OrgId, id: ChannelAccountId, input: CreateBridgeRequest) {
        yield* admin(caller, orgId)
        yield* orUnavailable(repo.get(orgId, id))
        yield* orUnavailable(rooms.info(orgId, input.roomId))
        return yield* orUnavailable(repo.createBridge(orgId, id, input.externalChannel, input.roomId))
      }
    )

    const bridges = Effect.fn("Channels.bridges")(function*(caller: Caller, orgId: OrgId, id: ChannelAccountId) {
      yield* admin(caller, orgId)
      yield* orUnavailable(repo.get(orgId, id))
      return yield* orUnavailable(repo.bridges(orgId, id))
    })

    const removeBridge = Effect.fn("Channels.removeBridge")(
      function*(caller: Caller, orgId: OrgId, id: ChannelAccountId, bridgeId: BridgeId) {
        yield* admin(caller, orgId)
        yield* orUnavailable(repo.removeBridge(orgId, id, bridgeId))
      }
    )

    /** The account's latest traffic in and out, newest first, with each delivery's status. */
    const traffic = Effect.fn("Channels.traffic")(
      function*(caller: Caller, orgId: OrgId, id: ChannelAccountId, limit: number) {
        yield* admin(caller, orgId)
        yield* orUnavailable(repo.get(orgId, id))
        return yield* orUnavailable(repo.traffic(orgId, id, Math.min(limit, MAX_TAIL)))
      }
    )

    return { create, list, get, update, remove, createBridge, bridges, removeBridge, traffic } as const
  }),
  dependencies: [ChannelRepo.Default, RoomRepo.Default, Access.Default, ChannelKey.Default]
}) {}
