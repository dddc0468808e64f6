/**
 * A teammate's inbox of triggers, its runs (turns) with their steps, the
 * tool journal that makes side effects idempotent, and token usage.
 */
import { SqlClient } from "@effect/sql"
import { NotFound } from "@troupe/domain/Errors"
import { Audience, RunCompleted, RunFailed, RunStarted, RunStepped } from "@troupe/domain/Event"
import type { MessageId, OrgId, RoomId, TeammateId } from "@troupe/domain/Ids"
import { Run, Usage, UsageLine } from "@troupe/domain/Teammate"
import { Effect, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import { orgScope } from "./OrgScope.js"

/** What makes a teammate act. */
export interface Trigger {
  readonly id: string
  readonly orgId: OrgId
  readonly teammateId: TeammateId
  readonly roomId: RoomId
  readonly threadId: MessageId | null
  readonly messageId: MessageId
  readonly kind: "mention" | "dm" | "handoff" | "routed"
}

/** Trigger statuses. */
export type TriggerStatus =
  | "pending"
  | "running"
  | "done"
  | "merged"
  | "rejected"
  | "interrupted"
  | "failed"
  | "refused"

interface RunRow {
  readonly id: string
  readonly teammateId: string
  readonly roomId: string
  readonly threadId: string | null
  readonly triggerIds: ReadonlyArray<string>
  readonly status: Run["status"]
  readonly model: string
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: string
  readonly latencyMs: number | null
  readonly error: string | null
  readonly replyMessageId: string | null
  readonly startedAt: Date
  readonly finishedAt: Date | null
}

const decodeRun = Schema.decodeUnknownSync(Run)

const roomAudience = (roomId: RoomId) => new Audience({ roomId, orgWide: false, userIds: [] })

/** Triggers, runs, steps, the tool journal and usage. */
export class RunRepo extends Effect.Service<RunRepo>()("@troupe/store/RunRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog

    const loadRun = (id: string) =>
      Effect.gen(function*() {
        const rows = yield* sql<RunRow>`SELECT id, teammate_id, room_id, thread_id, trigger_ids, status, model,
          input_tokens, output_tokens, cost_usd, latency_ms, error, reply_message_id, started_at, finished_at
          FROM runs WHERE id = ${id}`
        if (rows.length === 0) return yield* NotFound.of("run", id)
        const steps = yield* sql<
          { idx: number; kind: "model" | "tool"; name: string; input: unknown; output: unknown; createdAt: Date }
        >`
          SELECT idx, kind, name, input, output, created_at FROM run_steps WHERE run_id = ${id} ORDER BY idx`
        const r = rows[0]!
        return decodeRun({
          ...r,
          costUsd: Number(r.costUsd),
          startedAt: r.startedAt.toISOString(),
          finishedAt: r.finishedAt?.toISOString() ?? null,
          steps: steps.map((s) => ({
            index: s.idx,
            kind: s.kind,
            name: s.name,
            input: s.input,
            output: s.output,
            at: s.createdAt.toISOString()
          }))
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
      const rows = yield* withOrg(orgId)(sql<Trigger & { status: TriggerStatus; runId: string | null }>`
        SELECT id, org_id, teammate_id, room_id, thread_id, message_id, kind, status, run_id
        FROM teammate_triggers WHERE id = ${id}`)
      if (rows.length === 0) return yield* NotFound.of("trigger", id)
      return rows[0]!
    })

    /** Triggers not yet finished, oldest first. */
    const open = Effect.fn("RunRepo.open")(function*(orgId: OrgId, teammateId: TeammateId) {
      return yield* withOrg(orgId)(sql<Trigger & { status: TriggerStatus }>`
        SELECT id, org_id, teammate_id, room_id, thread_id, message_id, kind, status
        FROM teammate_triggers WHERE teammate_id = ${teammateId} AND status IN ('pending', 'running')
        ORDER BY created_at, id`)
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
        yield* sql`INSERT INTO runs (id, org_id, teammate_id, room_id, thread_id, trigger_ids, status, model)
          VALUES (${run.id}, ${orgId}, ${run.teammateId}, ${run.roomId}, ${run.threadId}, ${[
          ...run.triggerIds
        ]}::uuid[], 'running', ${run.model})
          ON CONFLICT (id) DO UPDATE SET status = 'running', started_at = now(), finished_at = NULL, error = NULL`
        yield* sql`DELETE FROM run_steps WHERE run_id = ${run.id}`
        yield* sql`UPDATE teammate_triggers SET status = 'running', run_id = ${run.id}, updated_at = now()
          WHERE id = ANY(${[...run.triggerIds]}::uuid[])`
        const loaded = yield* loadRun(run.id)
        yield* log.append(orgId, [{ audience: roomAudience(run.roomId), event: new RunStarted({ run: loaded }) }])
        return loaded
      }))
    })

    /** Records a step of a run; returns the log position of its `run.step` event. */
    const step = Effect.fn("RunRepo.step")(function*(
      orgId: OrgId,
      run: { id: string; teammateId: TeammateId; roomId: RoomId },
      s: { kind: "model" | "tool"; name: string; input: unknown; output: unknown }
    ) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const rows = yield* sql<{ idx: number }>`
          INSERT INTO run_steps (org_id, run_id, idx, kind, name, input, output)
          SELECT ${orgId}, ${run.id}, COALESCE(max(idx) + 1, 0), ${s.kind}, ${s.name}, ${
          JSON.stringify(s.input ?? {})
        }::jsonb,
            ${JSON.stringify(s.output ?? null)}::jsonb
          FROM run_steps WHERE run_id = ${run.id} RETURNING idx`
        const positions = yield* log.append(orgId, [{
          audience: roomAudience(run.roomId),
          event: new RunStepped({
            runId: run.id,
            teammateId: run.teammateId,
            roomId: run.roomId,
            kind: s.kind,
            name: s.name,
            index: rows[0]!.idx
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
          const ids = yield* sql<{ id: string }>`SELECT id FROM runs WHERE teammate_id = ${teammateId}
            AND room_id = ANY(${[...readable]}::uuid[])
            ORDER BY started_at DESC LIMIT ${limit}`
          return yield* Effect.forEach(ids, (r) => loadRun(r.id))
        }))
      }
    )

    /** The journalled result of a side effect, running it only the first time. */
    const once = <A, E, R>(orgId: OrgId, key: string, effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const prior = yield* withOrg(orgId)(
          sql<{ result: unknown }>`SELECT result FROM tool_journal WHERE key = ${key}`
        )
        if (prior.length > 0) return { result: prior[0]!.result, replayed: true }
        const result = yield* effect
        yield* withOrg(orgId)(sql`INSERT INTO tool_journal (org_id, key, result)
          VALUES (${orgId}, ${key}, ${JSON.stringify(result ?? null)}::jsonb) ON CONFLICT (key) DO NOTHING`)
        return { result: result as unknown, replayed: false }
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
      const rows = yield* withOrg(orgId)(sql<{
        orgUsed: string
        teammateUsed: string
        orgLimit: string | null
        teammateLimit: string | null
        allowedModels: ReadonlyArray<string> | null
      }>`
        SELECT
          (SELECT COALESCE(sum(input_tokens + output_tokens), 0) FROM runs WHERE org_id = ${orgId} AND started_at >= ${monthStart()}) AS org_used,
          (SELECT COALESCE(sum(input_tokens + output_tokens), 0) FROM runs WHERE teammate_id = ${teammateId} AND started_at >= ${monthStart()}) AS teammate_used,
          (SELECT monthly_token_budget FROM orgs WHERE id = ${orgId}) AS org_limit,
          (SELECT monthly_token_limit FROM teammates WHERE id = ${teammateId}) AS teammate_limit,
          (SELECT allowed_models FROM orgs WHERE id = ${orgId}) AS allowed_models`)
      const r = rows[0]!
      return {
        orgUsed: Number(r.orgUsed),
        teammateUsed: Number(r.teammateUsed),
        orgLimit: r.orgLimit === null ? null : Number(r.orgLimit),
        teammateLimit: r.teammateLimit === null ? null : Number(r.teammateLimit),
        allowedModels: r.allowedModels
      }
    })

    const usage = Effect.fn("RunRepo.usage")(function*(orgId: OrgId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const lines = yield* sql<
          { teammateId: string; runs: number; inputTokens: string; outputTokens: string; costUsd: string }
        >`
          SELECT teammate_id, count(*)::int AS runs, COALESCE(sum(input_tokens), 0) AS input_tokens,
            COALESCE(sum(output_tokens), 0) AS output_tokens, COALESCE(sum(cost_usd), 0) AS cost_usd
          FROM runs WHERE org_id = ${orgId} AND started_at >= ${monthStart()} GROUP BY teammate_id ORDER BY teammate_id`
        const org = yield* sql<
          { budget: string | null }
        >`SELECT monthly_token_budget AS budget FROM orgs WHERE id = ${orgId}`
        const toLine = (
          l: { teammateId: string | null; runs: number; inputTokens: string; outputTokens: string; costUsd: string }
        ) =>
          Schema.decodeUnknownSync(UsageLine)({
            teammateId: l.teammateId,
            runs: l.runs,
            inputTokens: Number(l.inputTokens),
            outputTokens: Number(l.outputTokens),
            costUsd: Number(l.costUsd)
          })
        const sum = (f: (l: (typeof lines)[number]) => number) => lines.reduce((n, l) => n + f(l), 0)
        return new Usage({
          month: monthStart().toISOString().slice(0, 7),
          monthlyTokenBudget: org[0]?.budget == null ? null : Number(org[0].budget),
          total: toLine({
            teammateId: null,
            runs: sum((l) => l.runs),
            inputTokens: String(sum((l) => Number(l.inputTokens))),
            outputTokens: String(sum((l) => Number(l.outputTokens))),
            costUsd: String(sum((l) => Number(l.costUsd)))
          }),
          teammates: lines.map(toLine)
        })
      }))
    })

    const setOrgBudget = Effect.fn("RunRepo.setOrgBudget")(function*(orgId: OrgId, tokens: number | null) {
      yield* withOrg(orgId)(sql`UPDATE orgs SET monthly_token_budget = ${tokens} WHERE id = ${orgId}`)
    })

    /** How many hand-offs led to this message. */
    const handOffDepth = Effect.fn("RunRepo.handOffDepth")(function*(orgId: OrgId, messageId: string) {
      const rows = yield* withOrg(orgId)(sql<{ depth: number | null }>`
        WITH RECURSIVE chain(message_id, depth) AS (
          SELECT ${messageId}::uuid, 0
          UNION ALL
          SELECT t.message_id, c.depth + 1 FROM chain c
          JOIN runs r ON r.reply_message_id = c.message_id
          JOIN teammate_triggers t ON t.id = ANY(r.trigger_ids) AND t.kind = 'handoff'
          WHERE c.depth < 10
        ) SELECT max(depth)::int AS depth FROM chain`)
      return rows[0]?.depth ?? 0
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
