/**
 * `troupe keys`: the org's API keys (for bots and scripts, used as
 * `TROUPE_TOKEN`): listing, making one (its secret is printed once) and
 * revoking one. Admins only; the server's refusal is exit 2.
 */
import { Args, Command, Options } from "@effect/cli"
import { ApiKeyId } from "@troupe/domain/Ids"
import { type ApiKey, Role } from "@troupe/domain/Org"
import { Console, Effect, Option } from "effect"
import { dim, listing } from "./Output.js"
import { anOrg, given, inGroup, json, orgOption, pickOne, url } from "./Session.js"

const record = (k: ApiKey) => ({ id: k.id, name: k.name, role: k.role, prefix: k.prefix, createdAt: k.createdAt })

const list = (input: { url: Option.Option<string>; org: Option.Option<string>; json: boolean }) =>
  Effect.gen(function*() {
    const { org, s } = yield* anOrg(input)
    const keys = yield* s.call(s.api.orgs.apiKeys({ path: { org: org.id } }))
    yield* listing(
      input.json,
      keys,
      ["NAME", "ROLE", "PREFIX", "CREATED", "ID"],
      (k) => [k.name, k.role, k.prefix, k.createdAt.toISOString().slice(0, 10), k.id],
      record
    )
  })

const group = Command.make("keys", { url, json, org: orgOption }, list)

const create = Command.make(
  "create",
  {
    url,
    json,
    org: orgOption,
    name: Args.text({ name: "name" }),
    role: Options.choice("role", Role.literals).pipe(
      Options.withDescription("what the key may do (default member; never above your own role)"),
      Options.optional
    )
  },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const created = yield* s.call(s.api.orgs.createApiKey({
        path: { org: org.id },
        payload: { name: input.name, ...given("role", input.role) }
      }))
      yield* Console.log(
        input.json
          ? JSON.stringify({ ...record(created.key), secret: created.secret })
          : `Made the key ${created.key.name} (${created.key.role}) ${dim(created.key.id)}\n` +
            `Its secret, shown this once (use it as TROUPE_TOKEN):\n${created.secret}`
      )
    }))
).pipe(Command.withDescription("make an API key; its secret is printed once (admins)"))

const revoke = Command.make(
  "revoke",
  { url, org: orgOption, key: Args.text({ name: "key" }).pipe(Args.withDescription("the key's id or name")) },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const keys = yield* s.call(s.api.orgs.apiKeys({ path: { org: org.id } }))
      const key = yield* pickOne(keys, input.key, (k) => k.id === input.key || k.name === input.key, "API key")
      yield* s.call(s.api.orgs.revokeApiKey({ path: { org: org.id, key: ApiKeyId.make(key.id) } }))
      yield* Console.log(`Revoked the key ${key.name} ${dim(key.id)}`)
    }))
).pipe(Command.withDescription("revoke an API key, by id or name (admins)"))

const listCommand = Command.make("list", { url, json, org: orgOption }, inGroup(group, list)).pipe(
  Command.withDescription("the org's API keys (also `troupe keys`)")
)

/** `troupe keys [list|create|revoke]`. */
export const keys = group.pipe(
  Command.withDescription("the org's API keys; create and revoke them"),
  Command.withSubcommands([listCommand, create, revoke])
)
