/**
 * Authentication in the contract: a bearer token (session or API key) that
 * the server resolves to the calling principal.
 */
import { HttpApiMiddleware, HttpApiSchema, HttpApiSecurity } from "@effect/platform"
import { Unauthorized, Unavailable } from "@troupe/domain/Errors"
import type { OrgId } from "@troupe/domain/Ids"
import type { Role } from "@troupe/domain/Org"
import type { User } from "@troupe/domain/User"
import { Context, type Option, Schema } from "effect"

/** The credential a request was made with: a session, or an API key. */
export interface Credential {
  readonly kind: "session" | "api_key"
  /** The session's or the key's id (never its secret). */
  readonly id: string
  /** When a session expires; null for API keys. */
  readonly expiresAt: Date | null
}

/** The authenticated caller. An API key is bound to one org and role. */
export class CurrentUser extends Context.Tag("@troupe/api/CurrentUser")<CurrentUser, {
  readonly user: User
  readonly token: string
  readonly credential: Credential
  readonly apiKey: Option.Option<{ readonly orgId: OrgId; readonly role: Role }>
}>() {}

/** Bearer authentication for every endpoint that needs a caller. */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("@troupe/api/Authentication", {
  failure: Schema.Union(
    Unauthorized.annotations(HttpApiSchema.annotations({ status: 401 })),
    Unavailable.annotations(HttpApiSchema.annotations({ status: 503 }))
  ),
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer }
}) {}
