/**
 * A teammate's inbox of triggers, its runs (turns) with their steps, the
 * tool journal that makes side effects idempotent, and token usage.
 */
import { SqlClient } from "@effect/sql"
import { NotFound } from "@troupe/domain/Errors"
import { Audience, RunCompleted, RunFailed, RunStarted, RunStepped } from "@troupe/domain/Event"
import { MessageId, OrgId, RoomId, TeammateId } from "@troupe/domain/Ids"
import { Run, RunStep, Usage, UsageLine } from "@troupe/domain/Teammate"
import { Effect, Option, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import { orgScope } from "./OrgScope.js"

/** What makes a teammate act. */
export const Trigger = Schema.Struct({
  id: Schema.UUID,
  orgId: OrgId,
  teammateId: TeammateId,
  roomId: RoomId,
  threadId: Schema.NullOr(MessageId),
  messageId: MessageId,
  kind: Schema.Literal("mention", "dm", "handoff", "routed")
})
/** What makes a teammate act. */
export type Trigger = typeof Trigger.Type

/** Trigger statuses. */
export const TriggerStatus = Schema.Literal(
  "pending",
  "running",
  "done",
  "merged",
  "rejected",
  "interrupted",
  "failed",
  "refused"
)
/** Trigger statuses. */
export type TriggerStatus = typeof TriggerStatus.Type

/** A `runs` row; its steps are read separately. */
const RunRow = Schema.Struct({
  ...Schema.Struct(Run.fields).omit("steps").fields,
  costUsd: Schema.NumberFromString,
  startedAt: Schema.DateFromSelf,
  finishedAt: Schema.NullOr(Schema.DateFromSelf)
})
const StepRow = Schema.Struct({
  idx: Schema.Number,
  kind: RunStep.fields.kind,
  name: Schema.String,
  input: Schema.Unknown,
  output: Schema.Unknown,
  createdAt: Schema.DateFromSelf,
  durationMs: Schema.NullOr(Schema.Number),
  error: Schema.NullOr(Schema.String)
})
const TriggerRow = Schema.Struct({ ...Trigger.fields, status: TriggerStatus })
const TriggerWithRun = Schema.Struct({ ...TriggerRow.fields, runId: Schema.NullOr(Schema.UUID) })
const Totals = Schema.Struct({
  orgUsed: Schema.NumberFromString,
  teammateUsed: Schema.NumberFromString,
  orgLimit: Schema.NullOr(Schema.NumberFromString),
  teammateLimit: Schema.NullOr(Schema.NumberFromString),
  allowedModels: Schema.NullOr(Schema.Array(Schema.String))
})
const UsageRow = Schema.Struct({
  teammateId: TeammateId,
  runs: Schema.Number,
  inputTokens: Schema.NumberFromString,
  outputTokens: Schema.NumberFromString,
  costUsd: Schema.NumberFromString
})
const Budget = Schema.Struct({ budget: Schema.NullOr(Schema.NumberFromString) })

const roomAudience = (roomId: RoomId) => new Audience({ roomId, orgWide: false, userIds: [] })

/** Triggers, runs, steps, the tool journal and usage. */
export class RunRepo extends Effect.Service<RunRepo>()("@troupe/store/RunRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog

    const runColumns = sql.literal(`id, teammate_id, room_id, thread_id, trigger_ids, status, model,
      input_tokens, output_tokens, cost_usd, latency_ms, error, reply_message_id, started_at, finished_at`)

    const loadRun = (id: string) =>
      Effect.gen(function*() {
        const found = yield* sql`SELECT ${runColumns} FROM runs WHERE id = ${id}`.pipe(Rows.first("run", RunRow))
        if (Option.isNone(found)) return yield* NotFound.of("run", id)
        const steps = yield* sql`
          SELECT idx, kind, name, input, output, created_at, duration_ms, error FROM run_steps WHERE run_id = ${id} ORDER BY idx`
          .pipe(
            Rows.all("run step", StepRow)
          )
        return new Run({
          ...found.value,
          steps: steps.map(({ createdAt, idx, ...s }) => new RunStep({ ...s, index: idx, at: createdAt }))
        })
      })

    /** Records a trigger; a repeated id changes nothing. Returns false for a repeat. */
    const addTrigger = Effect.fn("RunRepo.addTrigger")(function*(t: Trigger) {
      const rows = yield* withOrg(t.orgId)(sql`
        INSERT INTO teammate_triggers (id, org_id, teammate_id, room_id, thread_id, message_id, kind)
        VALUES (${t.id}, ${t.orgId}, ${t.teammateId}, ${t.roomId}, ${t.threadId}, ${t.messageId}, ${t.kind})
        ON CONFLICT (id) DO NOTHING RETURNING id`)
      return rows.length > 0
    })

    const trigger = Effect.fn("RunRepo.trigger")(function*(orgId: OrgId, id: string) {
      const found = yield* withOrg(orgId)(sql`
        SELECT id, org_id, teammate_id, room_id, thread_id, message_id, kind, status, run_id
        FROM teammate_triggers WHERE id = ${id}`.pipe(Rows.first("trigger", TriggerWithRun)))
      if (Option.isNone(found)) return yield* NotFound.of("trigger", id)
      return found.value
    })

    /** Triggers not yet finished, oldest first. */
    const open = Effect.fn("RunRepo.open")(function*(orgId: OrgId, teammateId: TeammateId) {
      return yield* withOrg(orgId)(sql`
        SELECT id, org_id, teammate_id, room_id, thread_id, message_id, kind, status
        FROM teammate_triggers WHERE teammate_id = ${teammateId} AND status IN ('pending', 'running')
        ORDER BY created_at, id`.pipe(Rows.all("trigger", TriggerRow)))
    })

    const setStatus = Effect.fn("RunRepo.setStatus")(
      function*(orgId: OrgId, ids: ReadonlyArray<string>, status: TriggerStatus, runId: string | null = null) {
        if (ids.length === 0) return
        yield* withOrg(orgId)(
          sql`UPDATE teammate_triggers SET status = ${status}, run_id = COALESCE(${runId}::uuid, run_id),
          updated_at = now() WHERE id = ANY(${[...ids]}::uuid[])`
        )
      }
    )

    /** Starts (or, after a crash, restarts) a run. */
    const start = Effect.fn("RunRepo.start")(function*(
      orgId: OrgId,
      run: {
        id: string
        teammateId: TeammateId
        roomId: RoomId
        threadId: MessageId | null
        triggerIds: ReadonlyArray<string>
        model: string
      }
    ) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        // One statement: a restarted run drops the steps its first attempt left, so it starts with none.
        const row = yield* sql`
          WITH cleared AS (DELETE FROM run_steps WHERE run_id = ${run.id}),
          marked AS (
            UPDATE teammate_triggers SET status = 'running', run_id = ${run.id}, updated_at = now()
            WHERE id = ANY(${[...run.triggerIds]}::uuid[]))
          INSERT INTO runs (id, org_id, teammate_id, room_id, thread_id, trigger_ids, status, model)
          VALUES (${run.id}, ${orgId}, ${run.teammateId}, ${run.roomId}, ${run.threadId}, ${[
          ...run.triggerIds
        ]}::uuid[], 'running', ${run.model})
          ON CONFLICT (id) DO UPDATE SET status = 'running', started_at = now(), finished_at = NULL, error = NULL
          RETURNING ${runColumns}`.pipe(Rows.one("run", RunRow))
        const started = new Run({ ...row, steps: [] })
        yield* log.append(orgId, [{ audience: roomAudience(run.roomId), event: new RunStarted({ run: started }) }])
        return started
      }))
    })

    /**
     * Records a step of a run, after the last one or, given `at`, in that
     * place (replacing what a replayed step left there); returns the log
     * position of its `run.step` event.
     */
    const step = Effect.fn("RunRepo.step")(function*(
      orgId: OrgId,
      run: { id: string; teammateId: TeammateId; roomId: RoomId },
      s: {
        kind: "model" | "tool"
        name: string
        input: unknown
        output: unknown
        durationMs?: number | undefined
        error?: string | null | undefined
      },
      at?: number
    ) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const place = at === undefined
          ? sql`(SELECT COALESCE(max(idx) + 1, 0) FROM run_steps WHERE run_id = ${run.id})`
          : sql`${at}::int`
        const { idx } = yield* sql`
          INSERT INTO run_steps (org_id, run_id, idx, kind, name, input, output, duration_ms, error)
          VALUES (${orgId}, ${run.id}, ${place}, ${s.kind}, ${s.name}, ${JSON.stringify(s.input ?? {})}::jsonb,
            ${JSON.stringify(s.output ?? null)}::jsonb,
            ${s.durationMs === undefined ? null : Math.max(0, Math.round(s.durationMs))}::int, ${s.error ?? null})
          ON CONFLICT (run_id, idx) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, input = EXCLUDED.input,
            output = EXCLUDED.output, duration_ms = EXCLUDED.duration_ms, error = EXCLUDED.error
          RETURNING idx`.pipe(
          Rows.one("run step", Schema.Struct({ idx: Schema.Number }))
        )
        const positions = yield* log.append(orgId, [{
          audience: roomAudience(run.roomId),
          event: new RunStepped({
            runId: run.id,
            teammateId: run.teammateId,
            roomId: run.roomId,
            kind: s.kind,
            name: s.name,
            index: idx
          })
        }])
        return positions[0] ?? 0
      }))
    })

    /** Finishes a run, records usage, settles its triggers and announces the outcome. */
    const finish = Effect.fn("RunRepo.finish")(function*(
      orgId: OrgId,
      id: string,
      outcome: {
        status: "completed" | "failed" | "interrupted" | "refused"
        inputTokens: number
        outputTokens: number
        costUsd: number
        latencyMs: number
        error: string | null
        replyMessageId: string | null
        triggerStatus: TriggerStatus
      }
    ) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        yield* sql`UPDATE runs SET status = ${outcome.status}, input_tokens = ${outcome.inputTokens},
          output_tokens = ${outcome.outputTokens}, cost_usd = ${outcome.costUsd}, latency_ms = ${outcome.latencyMs},
          error = ${outcome.error}, reply_message_id = ${outcome.replyMessageId}, finished_at = now()
          WHERE id = ${id}`
        yield* sql`UPDATE teammate_triggers SET status = ${outcome.triggerStatus}, updated_at = now()
          WHERE run_id = ${id} AND status = 'running'`
        const run = yield* loadRun(id)
        yield* log.append(orgId, [{
          audience: roomAudience(run.roomId),
          event: outcome.status === "completed" ? new RunCompleted({ run }) : new RunFailed({ run })
        }])
        return run
      }))
    })

    const get = Effect.fn("RunRepo.get")(function*(orgId: OrgId, id: string) {
      return yield* withOrg(orgId)(loadRun(id))
    })

    /** A teammate's latest runs in the rooms given (the rooms the reader may read). */
    const list = Effect.fn("RunRepo.list")(
      function*(orgId: OrgId, teammateId: TeammateId, limit: number, readable: ReadonlyArray<RoomId>) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const ids = yield* sql`SELECT id FROM runs WHERE teammate_id = ${teammateId}
            AND room_id = ANY(${[...readable]}::uuid[])
            ORDER BY started_at DESC LIMIT ${limit}`.pipe(Rows.all("run", Schema.Struct({ id: Schema.UUID })))
          return yield* Effect.forEach(ids, (r) => loadRun(r.id))
        }))
      }
    )

    /** The journalled result of a side effect, running it only the first time. */
    const once = <A, E, R>(orgId: OrgId, key: string, effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const prior = yield* withOrg(orgId)(
          sql`SELECT result FROM tool_journal WHERE key = ${key}`.pipe(
            Rows.first("tool journal", Schema.Struct({ result: Schema.Unknown }))
          )
        )
        if (Option.isSome(prior)) return { result: prior.value.result, replayed: true }
        const result = yield* effect
        yield* withOrg(orgId)(sql`INSERT INTO tool_journal (org_id, key, result)
          VALUES (${orgId}, ${key}, ${JSON.stringify(result ?? null)}::jsonb) ON CONFLICT (key) DO NOTHING`)
        const unknown: unknown = result
        return { result: unknown, replayed: false }
      })

    const monthStart = () => {
      const now = new Date()
      return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))
    }

    /**
     * Tokens used this month by the org and by one teammate, with their
     * limits, and the org's allowed models (null: no org restriction).
     */
    const limits = Effect.fn("RunRepo.limits")(function*(orgId: OrgId, teammateId: TeammateId) {
      return yield* withOrg(orgId)(sql`
        SELECT
          (SELECT COALESCE(sum(input_tokens + output_tokens), 0) FROM runs WHERE org_id = ${orgId} AND started_at >= ${monthStart()}) AS org_used,
          (SELECT COALESCE(sum(input_tokens + output_tokens), 0) FROM runs WHERE teammate_id = ${teammateId} AND started_at >= ${monthStart()}) AS teammate_used,
          (SELECT monthly_token_budget FROM orgs WHERE id = ${orgId}) AS org_limit,
          (SELECT monthly_token_limit FROM teammates WHERE id = ${teammateId}) AS teammate_limit,
          (SELECT allowed_models FROM orgs WHERE id = ${orgId}) AS allowed_models`.pipe(Rows.one("usage", Totals)))
    })

    const usage = Effect.fn("RunRepo.usage")(function*(orgId: OrgId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const lines = yield* sql`
          SELECT teammate_id, count(*)::int AS runs, COALESCE(sum(input_tokens), 0) AS input_tokens,
            COALESCE(sum(output_tokens), 0) AS output_tokens, COALESCE(sum(cost_usd), 0) AS cost_usd
          FROM runs WHERE org_id = ${orgId} AND started_at >= ${monthStart()} GROUP BY teammate_id ORDER BY teammate_id`
          .pipe(
            Rows.all("usage", UsageRow)
          )
        const org = yield* sql`SELECT monthly_token_budget AS budget FROM orgs WHERE id = ${orgId}`.pipe(
          Rows.first("org", Budget)
        )
        const sum = (f: (l: (typeof lines)[number]) => number) => lines.reduce((n, l) => n + f(l), 0)
        return new Usage({
          month: monthStart().toISOString().slice(0, 7),
          monthlyTokenBudget: Option.match(org, { onNone: () => null, onSome: (o) => o.budget }),
          total: new UsageLine({
            teammateId: null,
            runs: sum((l) => l.runs),
            inputTokens: sum((l) => l.inputTokens),
            outputTokens: sum((l) => l.outputTokens),
            costUsd: sum((l) => l.costUsd)
          }),
          teammates: lines.map((l) => new UsageLine(l))
        })
      }))
    })

    const setOrgBudget = Effect.fn("RunRepo.setOrgBudget")(function*(orgId: OrgId, tokens: number | null) {
      yield* withOrg(orgId)(sql`UPDATE orgs SET monthly_token_budget = ${tokens} WHERE id = ${orgId}`)
    })

    /** How many hand-offs led to this message. */
    const handOffDepth = Effect.fn("RunRepo.handOffDepth")(function*(orgId: OrgId, messageId: string) {
      const { depth } = yield* withOrg(orgId)(sql`
        WITH RECURSIVE chain(message_id, depth) AS (
          SELECT ${messageId}::uuid, 0
          UNION ALL
          SELECT t.message_id, c.depth + 1 FROM chain c
          JOIN runs r ON r.reply_message_id = c.message_id
          JOIN teammate_triggers t ON t.id = ANY(r.trigger_ids) AND t.kind = 'handoff'
          WHERE c.depth < 10
        ) SELECT max(depth)::int AS depth FROM chain`.pipe(
        Rows.one("hand-off chain", Schema.Struct({ depth: Schema.NullOr(Schema.Number) }))
      ))
      return depth ?? 0
    })

    return {
      handOffDepth,
      addTrigger,
      trigger,
      open,
      setStatus,
      start,
      step,
      finish,
      get,
      list,
      once,
      limits,
      usage,
      setOrgBudget
    } as const
  }),
  dependencies: [EventLog.Default]
}) {}
