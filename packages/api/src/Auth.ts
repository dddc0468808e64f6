/**
 * Authentication in the contract: a bearer token (session or API key) that
 * the server resolves to the calling principal.
 */
import { HttpApiMiddleware, HttpApiSchema, HttpApiSecurity } from "@effect/platform"
import type { Caller } from "@troupe/domain/Caller"
import { Unauthorized, Unavailable } from "@troupe/domain/Errors"
import { Context, Schema } from "effect"

/** The authenticated caller of a request, and the bearer token it used. */
export class CurrentUser
  extends Context.Tag("@troupe/api/CurrentUser")<CurrentUser, Caller & { readonly token: string }>()
{}

/** Bearer authentication for every endpoint that needs a caller. */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("@troupe/api/Authentication", {
  failure: Schema.Union(
    Unauthorized.annotations(HttpApiSchema.annotations({ status: 401 })),
    Unavailable.annotations(HttpApiSchema.annotations({ status: 503 }))
  ),
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer }
}) {}
