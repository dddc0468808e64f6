/**
 * Encryption of channel credentials at rest: AES-256-GCM under the key in
 * `CHANNEL_KEY` (32 bytes, base64), with the account id as associated data,
 * so a stored blob is useless without the key and cannot be moved to another
 * account. Without `CHANNEL_KEY` the gateway refuses to store or use
 * credentials (503 naming the variable) rather than keep them readable.
 */
import { Unavailable } from "@troupe/domain/Errors"
import { Config, ConfigError, Effect, Either, Option, Redacted, Schema } from "effect"
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"

/** The first byte of a stored blob: the layout version. */
const VERSION = 1
const IV_BYTES = 12
const TAG_BYTES = 16

/** The key from `CHANNEL_KEY` (optional; a value that is not 32 bytes of base64 fails at start-up). */
const KeyConfig = Config.option(Config.redacted("CHANNEL_KEY")).pipe(
  Config.mapOrFail((value) => {
    if (Option.isNone(value)) return Either.right(Option.none<Buffer>())
    const bytes = Buffer.from(Redacted.value(value.value).trim(), "base64")
    return bytes.length === 32
      ? Either.right(Option.some(bytes))
      : Either.left(
        ConfigError.InvalidData(
          ["CHANNEL_KEY"],
          "CHANNEL_KEY must be 32 random bytes in base64 (make one with: openssl rand -base64 32)"
        )
      )
  })
)

const missing = new Unavailable({
  message: "channel accounts need CHANNEL_KEY (32 random bytes in base64, e.g. `openssl rand -base64 32`) " +
    "to encrypt their credentials; the server has none configured"
})

const damaged = (accountId: string) =>
  new Unavailable({
    message: `the credentials of channel account ${accountId} cannot be read with the configured CHANNEL_KEY`
  })

/** Seals and opens channel credentials. */
export class ChannelKey extends Effect.Service<ChannelKey>()("@troupe/gateway/ChannelKey", {
  effect: Effect.gen(function*() {
    const key = yield* KeyConfig

    /** Encrypts `value` (as JSON) for the account `accountId`. */
    const seal = Effect.fn("ChannelKey.seal")(function*(accountId: string, value: unknown) {
      if (Option.isNone(key)) return yield* missing
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv("aes-256-gcm", key.value, iv)
      cipher.setAAD(Buffer.from(accountId))
      const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()])
      return new Uint8Array(Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]))
    })

    /** Decrypts the account's credentials and decodes them with `schema`. */
    const open = <A, I>(schema: Schema.Schema<A, I>) =>
      Effect.fn("ChannelKey.open")(function*(accountId: string, blob: Uint8Array) {
        if (Option.isNone(key)) return yield* missing
        const bytes = Buffer.from(blob)
        if (bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== VERSION) return yield* damaged(accountId)
        const text = yield* Effect.try({
          try: () => {
            const decipher = createDecipheriv("aes-256-gcm", key.value, bytes.subarray(1, 1 + IV_BYTES))
            decipher.setAAD(Buffer.from(accountId))
            decipher.setAuthTag(bytes.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES))
            return Buffer.concat([decipher.update(bytes.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()])
              .toString("utf8")
          },
          catch: () => damaged(accountId)
        })
        return yield* Schema.decodeUnknown(Schema.parseJson(schema))(text).pipe(
          Effect.mapError(() => damaged(accountId))
        )
      })

    return { seal, open, configured: Option.isSome(key) } as const
  })
}) {}
