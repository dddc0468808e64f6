/**
 * Teammate kinds: curated templates defined as data, and kinds defined in
 * TypeScript with `defineTeammate`, which may bring Schema-typed tools of
 * their own.
 */
import type { OrgId, RoomId, TeammateId } from "@troupe/domain/Ids"
import { type BusyPolicy, CatalogEntry, type ToolName } from "@troupe/domain/Teammate"
import { type Effect, Either, type ParseResult, Schema } from "effect"

/** What a tool handler knows about the turn it runs in. */
export interface ToolContext {
  readonly orgId: OrgId
  readonly teammateId: TeammateId
  /** The teammate's name, as its pins and messages show it. */
  readonly teammateName: string
  readonly roomId: RoomId
  readonly runId: string
  readonly sourceMessageId: string
}

/** What `tool` is given: typed parameters and a handler of them. */
export interface KindToolDefinition<A, I> {
  readonly name: string
  readonly description: string
  readonly parameters: Schema.Schema<A, I>
  readonly handler: (input: A, context: ToolContext) => Effect.Effect<unknown>
}

/**
 * A tool a code-defined kind brings. Its input type stays inside: `prepare`
 * decodes the model's arguments with the tool's schema and gives back the
 * handler's work, not yet run (the turn runs it through the journal).
 */
export interface KindTool {
  readonly name: string
  readonly description: string
  /** The parameters' schema, for the JSON Schema the model sees. */
  readonly parameters: Schema.Schema.AnyNoContext
  readonly prepare: (
    args: unknown,
    context: ToolContext
  ) => Either.Either<Effect.Effect<unknown>, ParseResult.ParseError>
}

/** A teammate kind. */
export interface TeammateKind {
  readonly template: string
  readonly name: string
  readonly handle: string
  readonly role: string
  readonly personality: string
  readonly instructions: string
  readonly tools: ReadonlyArray<ToolName>
  readonly busyPolicy: BusyPolicy
  /** Model override; the org default when absent. */
  readonly model?: string | undefined
  /** How many recent messages the turn reads (default 30). */
  readonly historyWindow?: number | undefined
  /** Tools of its own, defined in code. */
  readonly extraTools: ReadonlyArray<KindTool>
  readonly source: "data" | "code"
}

/**
 * Defines a teammate kind in TypeScript. Register it by passing it to the
 * server's catalog at start-up; people then hire it by its `template` name.
 */
export const defineTeammate = (definition: {
  readonly template: string
  readonly name: string
  readonly handle: string
  readonly role: string
  readonly personality?: string
  readonly instructions: string
  readonly tools?: ReadonlyArray<ToolName>
  readonly busyPolicy?: BusyPolicy
  readonly model?: string
  readonly historyWindow?: number
  readonly extraTools?: ReadonlyArray<KindTool>
}): TeammateKind => ({
  template: definition.template,
  name: definition.name,
  handle: definition.handle,
  role: definition.role,
  personality: definition.personality ?? "",
  instructions: definition.instructions,
  tools: definition.tools ?? [],
  busyPolicy: definition.busyPolicy ?? "queue",
  model: definition.model,
  historyWindow: definition.historyWindow,
  extraTools: definition.extraTools ?? [],
  source: "code"
})

/** A typed tool for `defineTeammate`. */
export const tool = <A, I>(t: KindToolDefinition<A, I>): KindTool => {
  const decode = Schema.decodeUnknownEither(t.parameters)
  return {
    name: t.name,
    description: t.description,
    parameters: t.parameters,
    prepare: (args, context) => Either.map(decode(args), (input) => t.handler(input, context))
  }
}

/** The catalog entry a kind is listed as. */
export const toCatalogEntry = (kind: TeammateKind) =>
  new CatalogEntry({
    template: kind.template,
    name: kind.name,
    handle: kind.handle,
    role: kind.role,
    personality: kind.personality,
    instructions: kind.instructions,
    tools: kind.tools,
    busyPolicy: kind.busyPolicy,
    source: kind.source
  })
