/**
 * What sending one delivery can come to, whatever the platform: sent (with
 * the platform's id for it), or refused in one of three ways the outbox
 * treats differently.
 */
import { Data } from "effect"

/** The platform asks us to wait (429): hold the destination, try again after `retryAfterMs`. */
export class RateLimitedByPlatform extends Data.TaggedError("RateLimitedByPlatform")<{
  readonly retryAfterMs: number
}> {}

/** A failure that may pass (5xx, a network error, a timeout): try again with backoff. */
export class TransientFailure extends Data.TaggedError("TransientFailure")<{ readonly reason: string }> {}

/** A refusal that will not change (a bad token, an unknown channel): the delivery fails with the reason. */
export class PermanentFailure extends Data.TaggedError("PermanentFailure")<{ readonly reason: string }> {}

/** Why a send did not go. */
export type SendError = RateLimitedByPlatform | TransientFailure | PermanentFailure

/** The text a delivery carries: who said it in the room, then what they said. */
export const outboundText = (authorName: string, text: string) => `${authorName}: ${text}`
