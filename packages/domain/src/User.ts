/**
 * People: accounts, their public profile and the session they hold.
 */
import { Schema } from "effect"
import { UserId } from "./Ids.js"

/** A handle: the name after `@` in a mention. Lower-case letters, digits, `-`, `_` and `.`. */
export const Handle = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9._-]{1,31}$/, {
    message: () => "expected a handle: 2–32 characters a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
  }),
  Schema.annotations({ description: "2–32 characters: a-z, 0-9, '.', '_' or '-', starting with a letter or digit" })
)

/** An e-mail address (compared case-insensitively). */
export const Email = Schema.String.pipe(
  Schema.pattern(/^\s*[^\s@]+@[^\s@]+\.[^\s@]+\s*$/, { message: () => "expected an e-mail address" }),
  Schema.maxLength(254, { message: () => "expected an e-mail address of at most 254 characters" }),
  Schema.annotations({ description: "an e-mail address" })
)

/** The canonical form of an e-mail address. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase()

/** A password: 8 to 256 characters, the same rule wherever one is chosen. */
export const Password = Schema.String.pipe(Schema.minLength(8), Schema.maxLength(256))

/** A person's display name: 1 to 100 characters, trimmed. */
export const PersonName = Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(100))

/** A person's account as others see it. */
/**
 * Where a person's avatar is read, with a version that changes with the
 * picture (`/v1/users/{id}/avatar?v=…`), or null when they have none. Absent
 * in records written before avatars existed, which read as null.
 */
export const Avatar = Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null, exact: true })

/** The avatar path of `userId` for content `sha256` (null: no avatar). */
export const avatarPath = (userId: string, sha256: string | null) =>
  sha256 === null ? null : `/v1/users/${userId}/avatar?v=${sha256.slice(0, 16)}`

export class User extends Schema.Class<User>("User")({
  id: UserId,
  email: Schema.String,
  name: Schema.String,
  handle: Schema.String,
  createdAt: Schema.Date
}) {}

/** Sign-up request. */
export class SignupRequest extends Schema.Class<SignupRequest>("SignupRequest")({
  email: Email,
  password: Password,
  name: PersonName
}) {}

/** Log-in request. */
export class LoginRequest extends Schema.Class<LoginRequest>("LoginRequest")({
  email: Email,
  password: Schema.String.pipe(Schema.maxLength(256))
}) {}

/** A session: the user and the bearer token that authenticates them. */
export class Session extends Schema.Class<Session>("Session")({
  user: User,
  token: Schema.String
}) {}

/** What everyone who shares an org with a person sees of them (no e-mail address). */
export class UserProfile extends Schema.Class<UserProfile>("UserProfile")({
  id: UserId,
  name: Schema.String,
  handle: Schema.String,
  avatar: Avatar
}) {}

/** A signed-in person changes their name or handle (fields left out stay as they are). */
export class UpdateProfileRequest extends Schema.Class<UpdateProfileRequest>("UpdateProfileRequest")({
  name: Schema.optional(PersonName),
  handle: Schema.optional(Handle)
}) {}

/** A signed-in person changes their password. */
export class ChangePasswordRequest extends Schema.Class<ChangePasswordRequest>("ChangePasswordRequest")({
  currentPassword: Schema.String.pipe(Schema.maxLength(256)),
  newPassword: Password
}) {}

/** Someone who forgot their password asks for a link to choose a new one. */
export class PasswordResetRequest extends Schema.Class<PasswordResetRequest>("PasswordResetRequest")({
  email: Email
}) {}

/**
 * The answer to a password-reset request, the same whether or not an account
 * uses the address, so the answer tells nobody which addresses have one.
 */
export class PasswordResetAccepted extends Schema.Class<PasswordResetAccepted>("PasswordResetAccepted")({
  message: Schema.String
}) {}

/** A new password chosen with a reset link's token. */
export class ConfirmPasswordResetRequest
  extends Schema.Class<ConfirmPasswordResetRequest>("ConfirmPasswordResetRequest")({
    token: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
    newPassword: Password
  })
{}

/** Whether people may sign in through the server's OpenID Connect provider, and what its button says. */
export class OidcSignIn extends Schema.Class<OidcSignIn>("OidcSignIn")({
  /** True when the server is configured for a provider. */
  enabled: Schema.Boolean,
  /** The provider's name for the button ("Sign in with …"); null when not enabled. */
  displayName: Schema.NullOr(Schema.String)
}) {}

/** The web app exchanges the one-time code of a provider sign-in for a session. */
export class OidcExchangeRequest extends Schema.Class<OidcExchangeRequest>("OidcExchangeRequest")({
  code: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))
}) {}

/** What the provider sends the browser back with (every field optional: providers and people send anything). */
export const OidcCallbackParams = Schema.Struct({
  code: Schema.optional(Schema.String.pipe(Schema.maxLength(4096))),
  state: Schema.optional(Schema.String.pipe(Schema.maxLength(512))),
  error: Schema.optional(Schema.String.pipe(Schema.maxLength(256))),
  error_description: Schema.optional(Schema.String.pipe(Schema.maxLength(1024))),
  iss: Schema.optional(Schema.String.pipe(Schema.maxLength(1024)))
})
