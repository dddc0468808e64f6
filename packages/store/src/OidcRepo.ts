/**
 * OpenID Connect sign-ins in flight and their one-time codes, kept in
 * Postgres so that any node may answer the provider's callback and the web
 * app's exchange. Global tables, reached only through narrow functions.
 */
import { SqlClient } from "@effect/sql"
import { OrgId, UserId } from "@troupe/domain/Ids"
import { User } from "@troupe/domain/User"
import { Duration, Effect, Option, Schema } from "effect"
import * as Rows from "./internal/Rows.js"
import { hashSecret, newSecret } from "./Secrets.js"

const Taken = Schema.Struct({ nonce: Schema.String, codeVerifier: Schema.String, expired: Schema.Boolean })
const Handoff = Schema.Struct({
  id: UserId,
  email: Schema.String,
  name: Schema.String,
  handle: Schema.String,
  createdAt: Schema.DateFromSelf,
  expired: Schema.Boolean
})

const interval = (ttl: Duration.Duration) => `${Duration.toMillis(ttl)} milliseconds`

/** A sign-in that went to the provider, as its callback finds it. */
export interface PendingLogin {
  readonly nonce: string
  readonly codeVerifier: string
  readonly expired: boolean
}

/** Sign-ins in flight and one-time codes. */
export class OidcRepo extends Effect.Service<OidcRepo>()("@troupe/store/OidcRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** Remembers a sign-in by its `state` (only its hash is kept) for `ttl`. */
    const begin = Effect.fn("OidcRepo.begin")(
      function*(login: { state: string; nonce: string; codeVerifier: string }, ttl: Duration.Duration) {
        yield* sql`SELECT troupe_oidc_begin(${hashSecret(login.state)}, ${login.nonce}, ${login.codeVerifier},
          ${interval(ttl)}::interval)`
      }
    )

    /** Takes the sign-in `state` names, once: none when it is unknown or was already taken. */
    const take = Effect.fn("OidcRepo.take")(function*(state: string) {
      const found = yield* Rows.first("sign-in", Taken)(sql`SELECT * FROM troupe_oidc_take(${hashSecret(state)})`)
      return Option.map(found, (row): PendingLogin => row)
    })

    /** A one-time code, valid for `ttl`, that the web app exchanges for a session of `user`. */
    const handoff = Effect.fn("OidcRepo.handoff")(function*(user: User, ttl: Duration.Duration) {
      const code = newSecret("trp_o_")
      yield* sql`SELECT troupe_oidc_handoff(${hashSecret(code)}, ${user.id}, ${interval(ttl)}::interval)`
      return code
    })

    /** Uses a one-time code up: the person it was made for, and whether it had expired; none when unknown or used. */
    const useHandoff = Effect.fn("OidcRepo.useHandoff")(function*(code: string) {
      const found = yield* Rows.first("sign-in code", Handoff)(
        sql`SELECT * FROM troupe_oidc_use_handoff(${hashSecret(code)})`
      )
      return Option.map(found, ({ expired, ...user }) => ({ user: new User(user, true), expired }))
    })

    /** The orgs that take people with addresses at `domain` (lower case). */
    const orgsForDomain = Effect.fn("OidcRepo.orgsForDomain")(function*(domain: string) {
      const rows = yield* Rows.all("org", Schema.Struct({ id: OrgId }))(
        sql`SELECT id FROM troupe_orgs_for_domain(${domain})`
      )
      return rows.map((r) => r.id)
    })

    return { begin, take, handoff, useHandoff, orgsForDomain } as const
  })
}) {}
