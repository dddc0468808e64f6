/**
 * Password hashing (scrypt) and bearer-token secrets. Tokens are random and
 * stored only as SHA-256 hashes, so a database leak reveals no usable token.
 */
import { Effect } from "effect"
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto"

const N = 16384
const r = 8
const p = 1
const keyLength = 32

const derive = (password: string, salt: Buffer) =>
  Effect.async<Buffer>((resume) => {
    scrypt(password.normalize("NFKC"), salt, keyLength, { N, r, p, maxmem: 64 * 1024 * 1024 }, (error, key) => {
      if (error) resume(Effect.die(error))
      else resume(Effect.succeed(key))
    })
  })

/** Hashes a password as `scrypt$N$r$p$salt$key` (base64 parts). */
export const hashPassword = (password: string) =>
  Effect.flatMap(
    Effect.sync(() => randomBytes(16)),
    (salt) =>
      Effect.map(derive(password, salt), (key) =>
        `scrypt$${N}$${r}$${p}$${salt.toString("base64")}$${key.toString("base64")}`)
  )

/** Checks a password against a stored hash in constant time. */
export const verifyPassword = (password: string, stored: string) => {
  const [scheme, , , , saltText, keyText, ...rest] = stored.split("$")
  if (scheme !== "scrypt" || saltText === undefined || keyText === undefined || rest.length > 0) {
    return Effect.succeed(false)
  }
  const salt = Buffer.from(saltText, "base64")
  const expected = Buffer.from(keyText, "base64")
  return Effect.map(derive(password, salt), (key) => key.length === expected.length && timingSafeEqual(key, expected))
}

/** A password hash that no password matches, for constant-time misses. */
export const dummyHash = `scrypt$${N}$${r}$${p}$${randomBytes(16).toString("base64")}$${
  randomBytes(32).toString("base64")
}`

/**
 * A new random secret with a readable prefix (`trp_s_…` for sessions, `trp_k_…`
 * for API keys, `trp_r_…` for password-reset links, `trp_o_…` for the one-time
 * codes of OpenID Connect sign-ins).
 */
export const newSecret = (prefix: "trp_s_" | "trp_k_" | "trp_r_" | "trp_o_") =>
  prefix + randomBytes(32).toString("base64url")

/** The stored form of a secret. */
export const hashSecret = (secret: string): Buffer => createHash("sha256").update(secret).digest()

/**
 * A stable UUID for a text (its SHA-256, shaped as a version-4 UUID): the same
 * text always gives the same id, so something made from it twice is one thing.
 */
export const stableUuid = (text: string): string => {
  const h = createHash("sha256").update(text).digest("hex")
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
}
