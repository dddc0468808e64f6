/**
 * Things kept as they come (mail, for tests), and a wait for the first few
 * that match: a test waits for the thing itself, never for time.
 */
import { Effect, Option, Stream, SubscriptionRef } from "effect"

/** A growing list to add to and wait on. */
export interface Collected<A> {
  readonly add: (item: A) => Effect.Effect<void>
  /** Everything so far. */
  readonly all: Effect.Effect<ReadonlyArray<A>>
  /** The first `count` items that `matches` accepts, once there are that many. */
  readonly first: (matches: (item: A) => boolean, count: number) => Effect.Effect<ReadonlyArray<A>>
}

/** An empty list. */
export const make = <A>(): Effect.Effect<Collected<A>> =>
  Effect.map(SubscriptionRef.make<ReadonlyArray<A>>([]), (ref) => ({
    add: (item) => SubscriptionRef.update(ref, (all) => [...all, item]),
    all: SubscriptionRef.get(ref),
    first: (matches, count) =>
      ref.changes.pipe(
        Stream.map((all) => all.filter(matches)),
        Stream.filter((found) => found.length >= count),
        Stream.runHead,
        Effect.map((found) => Option.getOrElse(found, () => []).slice(0, count))
      )
  }))
