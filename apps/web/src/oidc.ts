/**
 * The end of a sign-in through the identity provider: the server sends the
 * browser to `/oidc#code=<one-time code>`, or to
 * `/oidc#error=<code>&message=<text>` when the sign-in was refused. The
 * fragment never reaches a server; the app reads it here and clears it.
 */

/** What the provider sign-in the app was opened with came to. */
export type OidcReturn =
  | { readonly kind: "code"; readonly code: string }
  | { readonly kind: "error"; readonly code: string; readonly message: string }

/** Messages for refusals that came without one. */
const fallback: Record<string, string> = {
  access_denied: "The sign-in was cancelled at the identity provider.",
  state_unknown: "This sign-in link was already used or is unknown. Sign in again.",
  state_expired: "The sign-in took too long. Sign in again.",
  email_unverified: "The identity provider has not verified your e-mail address."
}

/** The provider sign-in in an address (`pathname` and `hash`), if it is the `/oidc` page. */
export const oidcReturn = (pathname: string, hash: string): OidcReturn | null => {
  if (pathname !== "/oidc") return null
  const params = new URLSearchParams(hash.replace(/^#/, ""))
  const code = params.get("code")
  if (code !== null && code !== "") return { kind: "code", code }
  const error = params.get("error") ?? "unknown"
  const message = params.get("message")
  return {
    kind: "error",
    code: error,
    message: message !== null && message !== ""
      ? `Signing in through the identity provider failed: ${message}.`
      : fallback[error] ?? "Signing in through the identity provider failed. Try again."
  }
}
