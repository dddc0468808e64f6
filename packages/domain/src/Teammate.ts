/**
 * Teammates: AI members of an org with a role, personality, instructions,
 * tools, memory and a busy policy; and the records of their turns.
 */
import { Schema } from "effect"
import { MessageId, OrgId, RoomId, TeammateId } from "./Ids.js"
import { Handle } from "./User.js"

/** What a teammate does with a message that arrives during a turn. */
export const BusyPolicy = Schema.Literal("queue", "merge", "interrupt", "reject")
/** What a teammate does with a message that arrives during a turn. */
export type BusyPolicy = typeof BusyPolicy.Type

/** Tools a teammate can be given. */
export const ToolName = Schema.Literal(
  "remember",
  "recall",
  "search_messages",
  "pin_note",
  "update_pin",
  "hand_off",
  "update_core_memory",
  "read_file",
  "start_task"
)
/** Tools a teammate can be given. */
export type ToolName = typeof ToolName.Type

/** A teammate as the org sees it. */
export class Teammate extends Schema.Class<Teammate>("Teammate")({
  id: TeammateId,
  orgId: OrgId,
  handle: Schema.String,
  name: Schema.String,
  role: Schema.String,
  personality: Schema.String,
  instructions: Schema.String,
  model: Schema.String,
  tools: Schema.Array(ToolName),
  busyPolicy: BusyPolicy,
  template: Schema.NullOr(Schema.String),
  monthlyTokenLimit: Schema.NullOr(Schema.Number),
  createdAt: Schema.Date,
  dismissed: Schema.Boolean
}) {}

const Text = (max: number) => Schema.String.pipe(Schema.maxLength(max))

/** A model name as given to the model endpoint. */
export const ModelName = Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(100))

/** Hire a teammate: from a catalog `template`, or custom with every field given. */
export class CreateTeammateRequest extends Schema.Class<CreateTeammateRequest>("CreateTeammateRequest")({
  template: Schema.optional(Schema.String),
  handle: Schema.optional(Handle),
  name: Schema.optional(Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(80))),
  role: Schema.optional(Text(200)),
  personality: Schema.optional(Text(2000)),
  instructions: Schema.optional(Text(8000)),
  model: Schema.optional(ModelName),
  tools: Schema.optional(Schema.Array(ToolName)),
  busyPolicy: Schema.optional(BusyPolicy),
  monthlyTokenLimit: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive())))
}) {}

/** Change a teammate. */
export class UpdateTeammateRequest extends Schema.Class<UpdateTeammateRequest>("UpdateTeammateRequest")({
  name: Schema.optional(Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(80))),
  role: Schema.optional(Text(200)),
  personality: Schema.optional(Text(2000)),
  instructions: Schema.optional(Text(8000)),
  model: Schema.optional(ModelName),
  tools: Schema.optional(Schema.Array(ToolName)),
  busyPolicy: Schema.optional(BusyPolicy),
  monthlyTokenLimit: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive())))
}) {}

/** A curated teammate template. */
export class CatalogEntry extends Schema.Class<CatalogEntry>("CatalogEntry")({
  template: Schema.String,
  name: Schema.String,
  handle: Schema.String,
  role: Schema.String,
  personality: Schema.String,
  instructions: Schema.String,
  tools: Schema.Array(ToolName),
  busyPolicy: BusyPolicy,
  /** `data` for templates, `code` for kinds defined in TypeScript. */
  source: Schema.Literal("data", "code")
}) {}

/** Run statuses. */
export const RunStatus = Schema.Literal("running", "completed", "failed", "interrupted", "refused")

/** One step of a run: a model call or a tool call. */
export class RunStep extends Schema.Class<RunStep>("RunStep")({
  index: Schema.Number,
  kind: Schema.Literal("model", "tool"),
  name: Schema.String,
  input: Schema.Unknown,
  output: Schema.Unknown,
  at: Schema.Date,
  /** How long the step took (the model call, or the tool), when recorded. */
  durationMs: Schema.NullOr(Schema.Number),
  /** What went wrong with a tool call (an unknown tool, invalid arguments); null when it ran. */
  error: Schema.NullOr(Schema.String)
}) {}

/** A teammate turn. */
export class Run extends Schema.Class<Run>("Run")({
  id: Schema.UUID,
  teammateId: TeammateId,
  roomId: RoomId,
  threadId: Schema.NullOr(MessageId),
  triggerIds: Schema.Array(Schema.UUID),
  status: RunStatus,
  model: Schema.String,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number,
  latencyMs: Schema.NullOr(Schema.Number),
  error: Schema.NullOr(Schema.String),
  replyMessageId: Schema.NullOr(MessageId),
  startedAt: Schema.Date,
  finishedAt: Schema.NullOr(Schema.Date),
  steps: Schema.Array(RunStep)
}) {}

/** Core memory block names. */
export const CoreBlock = Schema.Literal("persona", "org", "people")
/** Core memory block names. */
export type CoreBlock = typeof CoreBlock.Type

/** A teammate's memory: core blocks and recent long-term entries. */
export class MemoryEntry extends Schema.Class<MemoryEntry>("MemoryEntry")({
  id: Schema.UUID,
  text: Schema.String,
  sourceMessageId: Schema.NullOr(MessageId),
  /** The room of the message it came from (null for a memory added by hand). */
  roomId: Schema.NullOr(RoomId),
  createdAt: Schema.Date
}) {}

/** The whole memory view. */
export class MemoryView extends Schema.Class<MemoryView>("MemoryView")({
  core: Schema.Record({ key: Schema.String, value: Schema.String }),
  entries: Schema.Array(MemoryEntry)
}) {}

/** Replace a core memory block. */
export class PutCoreMemoryRequest extends Schema.Class<PutCoreMemoryRequest>("PutCoreMemoryRequest")({
  text: Text(4000)
}) {}

/** Add a long-term memory by hand. */
export class AddMemoryRequest extends Schema.Class<AddMemoryRequest>("AddMemoryRequest")({
  text: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(2000))
}) {}

/** Token usage and cost. */
export class UsageLine extends Schema.Class<UsageLine>("UsageLine")({
  teammateId: Schema.NullOr(TeammateId),
  runs: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number
}) {}

/** An org's usage for the current month, in total and per teammate. */
export class Usage extends Schema.Class<Usage>("Usage")({
  month: Schema.String,
  total: UsageLine,
  monthlyTokenBudget: Schema.NullOr(Schema.Number),
  teammates: Schema.Array(UsageLine)
}) {}

/**
 * Which models an org's teammates may use. `allowedModels` is the org's own
 * list (null: any the server allows); `serverAllowedModels` is the server's
 * `ALLOWED_MODELS` (null: any). With `local` true there is no model endpoint
 * and every teammate uses the deterministic local model.
 */
export class ModelPolicyView extends Schema.Class<ModelPolicyView>("ModelPolicyView")({
  allowedModels: Schema.NullOr(Schema.Array(Schema.String)),
  serverAllowedModels: Schema.NullOr(Schema.Array(Schema.String)),
  defaultModel: Schema.String,
  local: Schema.Boolean
}) {}

/** Set the org's allowed models; null lifts the org's restriction. */
export class PutModelPolicyRequest extends Schema.Class<PutModelPolicyRequest>("PutModelPolicyRequest")({
  allowedModels: Schema.NullOr(Schema.Array(ModelName).pipe(Schema.minItems(1), Schema.maxItems(50)))
}) {}
