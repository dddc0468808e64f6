/**
 * Rows decoded with Schema, so a query's result has the shape its schema
 * states or fails as a typed `RowError`: never an unchecked cast, never a
 * `rows[0]!`, never a decoder that throws.
 */
import { Effect, type Option, ParseResult, Schema } from "effect"
import { RowError } from "../DatabaseError.js"

/** A row that did not decode, as the typed error (`what` names the kind of row). */
export const rowError = (what: string) => (e: ParseResult.ParseError) => {
  const [first] = ParseResult.ArrayFormatter.formatErrorSync(e)
  const where = first === undefined || first.path.length === 0 ? "" : `${first.path.join(".")}: `
  return new RowError({ message: `a ${what} row cannot be read: ${where}${first?.message ?? e.message}`, cause: e })
}

/** Every row of `query`, decoded with `schema` (named `what` in errors). */
export const all = <A, I>(what: string, schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknown(Schema.Array(schema))
  return <E, R>(query: Effect.Effect<ReadonlyArray<unknown>, E, R>): Effect.Effect<ReadonlyArray<A>, E | RowError, R> =>
    Effect.flatMap(query, (rows) => Effect.mapError(decode(rows), rowError(what)))
}

/** The first row of `query`, if there is one. */
export const first = <A, I>(what: string, schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknown(schema)
  return <E, R>(query: Effect.Effect<ReadonlyArray<unknown>, E, R>): Effect.Effect<Option.Option<A>, E | RowError, R> =>
    Effect.flatMap(
      query,
      (rows) => rows.length === 0 ? Effect.succeedNone : Effect.asSome(Effect.mapError(decode(rows[0]), rowError(what)))
    )
}

/** The one row `query` must return (an `INSERT … RETURNING`, an aggregate): its absence is a `RowError` too. */
export const one = <A, I>(what: string, schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknown(schema)
  return <E, R>(query: Effect.Effect<ReadonlyArray<unknown>, E, R>): Effect.Effect<A, E | RowError, R> =>
    Effect.flatMap(query, (rows) =>
      rows.length === 0
        ? Effect.fail(new RowError({ message: `a ${what} row was expected and none came back` }))
        : Effect.mapError(decode(rows[0]), rowError(what)))
}
