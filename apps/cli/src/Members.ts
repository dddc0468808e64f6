/**
 * `troupe members`: the org's people (and teammates), adding a person who
 * has an account, inviting an address by a link, changing a role and
 * removing someone. Who may do what is the server's to decide
 * (docs/access.md): its refusal is exit 2 with its message.
 */
import { Args, Command, Options } from "@effect/cli"
import { type OrgId, UserId } from "@troupe/domain/Ids"
import { InvitedRole, type Member, Role } from "@troupe/domain/Org"
import { Console, Effect, Option } from "effect"
import { dim, listing } from "./Output.js"
import { anOrg, Failure, given, inGroup, json, orgOption, type Session, url } from "./Session.js"

const record = (m: Member) => ({ id: m.id, kind: m.kind, name: m.name, handle: m.handle, role: m.role })

const list = (input: { url: Option.Option<string>; org: Option.Option<string>; json: boolean }) =>
  Effect.gen(function*() {
    const { org, s } = yield* anOrg(input)
    const members = yield* s.call(s.api.orgs.members({ path: { org: org.id } }))
    yield* listing(
      input.json,
      members,
      ["HANDLE", "NAME", "ROLE", "KIND", "ID"],
      (m) => [`@${m.handle}`, m.name, m.role, m.kind, m.id],
      record
    )
  })

/** The person `wanted` names (`@handle`, handle or id) among the org's members. */
const personFor = (s: Session, orgId: OrgId, wanted: string) =>
  Effect.gen(function*() {
    const handle = wanted.replace(/^@/, "")
    const members = yield* s.call(s.api.orgs.members({ path: { org: orgId } }))
    const found = members.find((m) => m.kind === "user" && (m.handle === handle || m.id === handle))
    if (found === undefined) return yield* new Failure({ message: `no person @${handle} in this org`, code: 2 })
    return { member: found, id: UserId.make(found.id) }
  })

const group = Command.make("members", { url, json, org: orgOption }, list)

const role = Options.choice("role", Role.literals).pipe(
  Options.withDescription("their role in the org (default member)"),
  Options.optional
)

const add = Command.make(
  "add",
  { url, json, org: orgOption, email: Args.text({ name: "email" }), role },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const added = yield* s.call(s.api.orgs.addMember({
        path: { org: org.id },
        payload: {
          email: input.email,
          ...given("role", input.role)
        }
      }))
      yield* Console.log(
        input.json ? JSON.stringify(record(added)) : `Added ${added.name} (@${added.handle}) as ${added.role}.`
      )
    }))
).pipe(Command.withDescription("add a person who has an account, by e-mail (admins)"))

const invite = Command.make(
  "invite",
  {
    url,
    json,
    org: orgOption,
    email: Args.text({ name: "email" }),
    role: Options.choice("role", InvitedRole.literals).pipe(
      Options.withDescription("the role the invitation gives (default member)"),
      Options.optional
    )
  },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const created = yield* s.call(s.api.invitations.create({
        path: { org: org.id },
        payload: {
          email: input.email,
          ...given("role", input.role)
        }
      }))
      const i = created.invitation
      yield* Console.log(
        input.json
          ? JSON.stringify({ id: i.id, email: i.email, role: i.role, url: created.url, expiresAt: i.expiresAt })
          : `Invited ${i.email} as ${i.role}; send them this link (it works once, until ${i.expiresAt.toISOString()}):\n${created.url}`
      )
    }))
).pipe(Command.withDescription("invite an e-mail address with a role; prints the link to send (admins)"))

const changeRole = Command.make(
  "role",
  {
    url,
    json,
    org: orgOption,
    person: Args.text({ name: "person" }),
    role: Args.choice(Role.literals.map((r) => [r, r] as const), { name: "role" })
  },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const { id } = yield* personFor(s, org.id, input.person)
      const changed = yield* s.call(
        s.api.orgs.changeRole({ path: { org: org.id, user: id }, payload: { role: input.role } })
      )
      yield* Console.log(
        input.json ? JSON.stringify(record(changed)) : `@${changed.handle} is now ${changed.role}.`
      )
    }))
).pipe(Command.withDescription("change a person's role (admins; owners for the owner role)"))

const remove = Command.make(
  "remove",
  { url, org: orgOption, person: Args.text({ name: "person" }) },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const { id, member } = yield* personFor(s, org.id, input.person)
      yield* s.call(s.api.orgs.removeMember({ path: { org: org.id, user: id } }))
      yield* Console.log(`Removed @${member.handle} from ${org.name} ${dim(id)}`)
    }))
).pipe(Command.withDescription("remove a person from the org (admins, or yourself)"))

const listCommand = Command.make("list", { url, json, org: orgOption }, inGroup(group, list)).pipe(
  Command.withDescription("the org's members (also `troupe members`)")
)

/** `troupe members [list|add|invite|role|remove]`. */
export const members = group.pipe(
  Command.withDescription("the org's members; add, invite, change roles and remove"),
  Command.withSubcommands([listCommand, add, invite, changeRole, remove])
)
