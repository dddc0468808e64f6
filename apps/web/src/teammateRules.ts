/**
 * The rules of the teammate screens, as pure functions: what a form may send
 * (checked against the contract's own schemas before it goes), which models
 * an org offers, what an edit changes, and how a run and its steps read.
 */
import {
  BusyPolicy,
  CreateTeammateRequest,
  type ModelPolicyView,
  type Run,
  type Teammate,
  ToolName,
  UpdateTeammateRequest
} from "@troupe/domain/Teammate"
import { Either, ParseResult, Schema } from "effect"

/** Every tool a teammate can be given, in the contract's order. */
export const toolNames: ReadonlyArray<ToolName> = ToolName.literals

/** Every busy policy, the default first. */
export const busyPolicies: ReadonlyArray<BusyPolicy> = BusyPolicy.literals

/** What each busy policy does, for people choosing one. */
export const busyPolicyHelp: Record<BusyPolicy, string> = {
  queue: "answer each message in turn",
  merge: "fold waiting messages into one next turn",
  interrupt: "stop the current turn for the new message",
  reject: "reply at once that it is busy"
}

/**
 * The models a teammate of the org may use: the org's list, else the
 * server's, each as narrowed by the other; `null` when any model goes (then
 * the person types one). With the local model there is only `local`.
 */
export const modelChoices = (policy: ModelPolicyView): ReadonlyArray<string> | null => {
  if (policy.local) return ["local"]
  const server = policy.serverAllowedModels
  if (policy.allowedModels !== null) {
    return server === null ? policy.allowedModels : policy.allowedModels.filter((m) => server.includes(m))
  }
  return server
}

/** A form's field errors, by field name; the form-wide one (no field) under `""`. */
export type FieldErrors = Readonly<Record<string, string>>

const fieldErrors = (error: ParseResult.ParseError): FieldErrors => {
  const errors: Record<string, string> = {}
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const key = String(issue.path[0] ?? "")
    errors[key] ??= issue.message
  }
  return errors
}

/** What a person typed into the teammate form. */
export interface TeammateInput {
  readonly handle: string
  readonly name: string
  readonly role: string
  readonly personality: string
  readonly instructions: string
  readonly model: string
  readonly tools: ReadonlyArray<ToolName>
  readonly busyPolicy: BusyPolicy
  /** Empty for no limit. */
  readonly monthlyTokenLimit: string
}

const limitOf = (text: string): number | null => text.trim() === "" ? null : Number(text.trim())

/**
 * A custom teammate to hire, checked by the contract's schema: the request,
 * or the errors next to each field. `withLimit` is false for people who may
 * not set a token limit (it is left out).
 */
export const newTeammate = (
  input: TeammateInput,
  withLimit: boolean
): Either.Either<CreateTeammateRequest, FieldErrors> => {
  const limit = limitOf(input.monthlyTokenLimit)
  const decoded = Schema.decodeUnknownEither(CreateTeammateRequest, { errors: "all" })({
    handle: input.handle.trim().toLowerCase(),
    name: input.name,
    role: input.role.trim(),
    personality: input.personality,
    instructions: input.instructions,
    ...(input.model.trim() === "" ? {} : { model: input.model }),
    tools: input.tools,
    busyPolicy: input.busyPolicy,
    ...(withLimit && limit !== null ? { monthlyTokenLimit: limit } : {})
  })
  // The contract lets a role be empty (a template gives one); a custom teammate needs its own.
  const role: FieldErrors = input.role.trim() === "" ? { role: "a teammate needs a role" } : {}
  if (Either.isLeft(decoded)) return Either.left({ ...role, ...fieldErrors(decoded.left) })
  return Object.keys(role).length > 0 ? Either.left(role) : Either.right(decoded.right)
}

/** The editable settings of a teammate, as its form shows them. */
export const inputOf = (t: Teammate): TeammateInput => ({
  handle: t.handle,
  name: t.name,
  role: t.role,
  personality: t.personality,
  instructions: t.instructions,
  model: t.model,
  tools: t.tools,
  busyPolicy: t.busyPolicy,
  monthlyTokenLimit: t.monthlyTokenLimit === null ? "" : String(t.monthlyTokenLimit)
})

/**
 * The fields a person edited, over the teammate as it is now: what the form
 * shows. Fields not edited follow the teammate (an edit from another tab
 * shows at once); edited ones keep what the person typed.
 */
export const shown = (t: Teammate, edits: Partial<TeammateInput>): TeammateInput => ({ ...inputOf(t), ...edits })

const sameTools = (a: ReadonlyArray<ToolName>, b: ReadonlyArray<ToolName>) =>
  a.length === b.length && a.every((x) => b.includes(x))

/**
 * The change to send for the edits: only the fields that differ from the
 * teammate as it is now, checked by the contract's schema; `{}` when nothing
 * changed. `withLimit` is false for people who may not change the token limit.
 */
export const changes = (
  t: Teammate,
  edits: Partial<TeammateInput>,
  withLimit: boolean
): Either.Either<UpdateTeammateRequest, FieldErrors> => {
  const now = inputOf(t)
  const next = shown(t, edits)
  const patch: Record<string, unknown> = {}
  for (const key of ["name", "role", "personality", "instructions", "model", "busyPolicy"] as const) {
    if (next[key] !== now[key]) patch[key] = next[key]
  }
  if (!sameTools(next.tools, now.tools)) patch["tools"] = next.tools
  if (withLimit && next.monthlyTokenLimit.trim() !== now.monthlyTokenLimit) {
    patch["monthlyTokenLimit"] = limitOf(next.monthlyTokenLimit)
  }
  const decoded = Schema.decodeUnknownEither(UpdateTeammateRequest, { errors: "all" })(patch)
  return Either.mapLeft(decoded, fieldErrors)
}

/** How long a run took (ms); `null` while it runs. */
export const runDuration = (run: Run): number | null =>
  run.finishedAt === null ? null : run.finishedAt.getTime() - run.startedAt.getTime()

/** One step of a run as the panel shows it. */
export interface StepView {
  readonly index: number
  readonly kind: "model" | "tool"
  readonly name: string
  /** Model calls: the tokens the call used. */
  readonly inputTokens: number | null
  readonly outputTokens: number | null
  /** The step's own duration; for steps recorded without one, from the end of the step before to its end. */
  readonly durationMs: number
  /** Tool calls: what the tool answered (an error reads as one). */
  readonly output: string | null
  /** Tool calls the teammate got wrong: what was wrong. */
  readonly error: string | null
  /** Model calls: the tools the model asked for. */
  readonly toolCalls: ReadonlyArray<string>
}

const numberIn = (value: unknown, key: string): number | null => {
  if (typeof value !== "object" || value === null || !(key in value)) return null
  const found: unknown = Reflect.get(value, key)
  return typeof found === "number" ? found : null
}

const stringsIn = (value: unknown, key: string): ReadonlyArray<string> => {
  if (typeof value !== "object" || value === null || !(key in value)) return []
  const found: unknown = Reflect.get(value, key)
  return Array.isArray(found) ? found.filter((x): x is string => typeof x === "string") : []
}

/** The steps of a run in order, with their tokens and durations. */
export const stepsOf = (run: Run): ReadonlyArray<StepView> => {
  const sorted = [...run.steps].sort((a, b) => a.index - b.index)
  return sorted.map((step, i) => {
    const before = i === 0 ? run.startedAt : sorted[i - 1]?.at ?? run.startedAt
    return {
      index: step.index,
      kind: step.kind,
      name: step.name,
      inputTokens: step.kind === "model" ? numberIn(step.output, "inputTokens") : null,
      outputTokens: step.kind === "model" ? numberIn(step.output, "outputTokens") : null,
      // Its own duration when recorded; for older steps, the time since the step before.
      durationMs: step.durationMs ?? Math.max(0, step.at.getTime() - before.getTime()),
      error: step.error,
      output: step.kind === "tool"
        ? typeof step.output === "string" ? step.output : JSON.stringify(step.output)
        : null,
      toolCalls: step.kind === "model" ? stringsIn(step.output, "toolCalls") : []
    }
  })
}
