/**
 * Long-term memory recall (`TeammateRepo.recall`, Postgres full-text search)
 * as one teammate's memories grow, next to a primary-key lookup on the same
 * table through the same org-scoped transaction.
 */
import { SqlClient } from "@effect/sql"
import type { OrgId, TeammateId } from "@troupe/domain/Ids"
import * as Database from "@troupe/store/Database"
import { LogWaker } from "@troupe/store/EventLog"
import { withOrg } from "@troupe/store/OrgScope"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import { Console, Effect, Layer } from "effect"
import { performance } from "node:perf_hooks"
import { summarize, type Summary } from "./Stats.js"
import { random, words } from "./Words.js"

/** Recall at one number of memories. */
export interface RecallSize {
  readonly memories: number
  /** Seconds the bulk insert of this step took (index upkeep included). */
  readonly insertSeconds: number
  readonly recall: Summary
  /** Rows the queries matched, on average (before the limit of 5). */
  readonly matchedMean: number
  /** Primary-key lookups of random memories: the baseline. */
  readonly lookup: Summary
}

/** Recall at every size. */
export interface RecallRun {
  readonly queries: number
  readonly repeats: number
  readonly sizes: ReadonlyArray<RecallSize>
}

/** Single words at every frequency, and two- and three-word questions, as recall gets them from messages. */
const makeQueries = (count: number) => {
  const next = random(7)
  const word = () => words[Math.floor(next() * words.length)] ?? ""
  return Array.from(
    { length: count },
    (_, i) =>
      i % 2 === 0 ? word() : i % 4 === 1 ? `${word()} ${word()}` : `what about the ${word()} ${word()} ${word()}?`
  )
}

/**
 * For teammate `teammateId` of `orgId`: grows its memories to
 * each of `sizes` in turn by bulk `INSERT … SELECT` (deterministic texts),
 * then times `queries × repeats` recalls and as many primary-key lookups,
 * interleaved.
 */
export const memoryRecall = (
  orgId: OrgId,
  teammateId: TeammateId,
  options: { readonly sizes: ReadonlyArray<number>; readonly queries: number; readonly repeats: number }
) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // Seeding and counting are the tables' owner's work; what is timed runs as the app, in the org.
    const admin = yield* Database.AdminSql
    const repo = yield* Effect.provide(TeammateRepo, TeammateRepo.Default.pipe(Layer.provide(LogWaker.none)))
    const queries = makeQueries(options.queries)
    const sizes: Array<RecallSize> = []
    let have = 0
    for (const size of options.sizes) {
      yield* Console.log(`memory recall: ${size.toLocaleString("en-US")} memories…`)
      const began = performance.now()
      yield* admin.withTransaction(Effect.zipRight(
        admin`SELECT setseed(${(size % 997) / 997}::float8)`,
        admin`INSERT INTO memories (org_id, teammate_id, text, created_at)
          SELECT ${orgId}, ${teammateId},
            (SELECT string_agg((${words}::text[])[1 + floor(power(random(), 2) * ${words.length}::int)::int], ' ')
              FROM generate_series(1, 6 + g % 11)),
            now() - make_interval(secs => g)
          FROM generate_series(${have + 1}::int, ${size}::int) AS g`
      ))
      // Steady state: the index's pending entries merged, statistics fresh.
      yield* admin`SELECT gin_clean_pending_list('memories_search'::regclass)`
      yield* admin`ANALYZE memories`
      const insertSeconds = (performance.now() - began) / 1000
      have = size
      const ids = (yield* admin<{ id: string }>`
        SELECT id FROM memories WHERE teammate_id = ${teammateId} ORDER BY random() LIMIT ${options.queries}`).map((
        r
      ) => r.id)
      const matched = yield* Effect.forEach(queries, (q) =>
        Effect.map(
          admin<{ n: number }>`SELECT count(*)::int AS n FROM memories
            WHERE teammate_id = ${teammateId} AND search @@ websearch_to_tsquery('english', ${q})`,
          (rows) => rows[0]?.n ?? 0
        ))
      const lookup = (id: string) =>
        withOrg(orgId)(sql`SELECT id, text, source_message_id, created_at FROM memories WHERE id = ${id}`)
      // Warm-up: each query and lookup once.
      yield* Effect.forEach(queries, (q) => repo.recall(orgId, teammateId, q, 5), { discard: true })
      yield* Effect.forEach(ids, lookup, { discard: true })
      const recalls: Array<number> = []
      const lookups: Array<number> = []
      const timed = <A, E, R>(samples: Array<number>, self: Effect.Effect<A, E, R>) =>
        Effect.suspend(() => {
          const t0 = performance.now()
          return Effect.tap(self, () => Effect.sync(() => samples.push(performance.now() - t0)))
        })
      for (let r = 0; r < options.repeats; r++) {
        yield* Effect.forEach(queries, (q) => timed(recalls, repo.recall(orgId, teammateId, q, 5)), { discard: true })
        yield* Effect.forEach(ids, (id) => timed(lookups, lookup(id)), { discard: true })
      }
      sizes.push({
        memories: size,
        insertSeconds,
        recall: summarize(recalls),
        matchedMean: matched.reduce((a, b) => a + b, 0) / Math.max(1, matched.length),
        lookup: summarize(lookups)
      })
    }
    return { queries: queries.length, repeats: options.repeats, sizes } satisfies RecallRun
  })
