/**
 * Who makes a request: a person (or an API key's bot) and the credential
 * they used. Every use case takes the caller and decides from current state
 * what it may do.
 */
import type { OrgId } from "./Ids.js"
import type { Role } from "./Org.js"
import type { User } from "./User.js"

/** The credential a request was made with: a session, or an API key. */
export interface Credential {
  readonly kind: "session" | "api_key"
  /** The session's or the key's id (never its secret). */
  readonly id: string
  /** When a session expires; null for API keys. */
  readonly expiresAt: Date | null
}

/** The authenticated caller. An API key is bound to one org, with a role. */
export interface Caller {
  readonly user: User
  readonly credential: Credential
  /** Set for API keys: the one org the key may act in, and the key's role there. */
  readonly apiKey: { readonly orgId: OrgId; readonly role: Role } | null
}
