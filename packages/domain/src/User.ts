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

/** A person's account as others see it. */
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
  password: Schema.String.pipe(Schema.minLength(8), Schema.maxLength(256)),
  name: Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(100))
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
