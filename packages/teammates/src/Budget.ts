/**
 * The token budget rule, in one place for turns and tasks: a teammate may
 * not call its model once the org has used its monthly budget, or the
 * teammate its own monthly limit.
 */

/** This month's usage and the limits that apply (null: no limit). */
export interface Limits {
  readonly orgUsed: number
  readonly orgLimit: number | null
  readonly teammateUsed: number
  readonly teammateLimit: number | null
}

/** Which limit is reached, if any: the org's before the teammate's. */
export const overLimit = (b: Limits) =>
  b.orgLimit !== null && b.orgUsed >= b.orgLimit
    ? { scope: "org" as const, limit: b.orgLimit, used: b.orgUsed }
    : b.teammateLimit !== null && b.teammateUsed >= b.teammateLimit
    ? { scope: "teammate" as const, limit: b.teammateLimit, used: b.teammateUsed }
    : null
