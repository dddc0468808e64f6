/**
 * The teammate screens' rules without a browser: the form checked by the
 * contract's schemas, the models an org offers, edits that follow the
 * teammate as it changes elsewhere, and how runs and their steps read.
 */
import { describe, expect, it } from "@effect/vitest"
import { MessageId, OrgId, RoomId, TeammateId } from "@troupe/domain/Ids"
import { ModelPolicyView, Run, RunStep, Teammate } from "@troupe/domain/Teammate"
import { Either } from "effect"
import { randomUUID } from "node:crypto"
import * as Model from "../src/model.js"
import {
  changes,
  inputOf,
  modelChoices,
  newTeammate,
  runDuration,
  shown,
  stepsOf,
  type TeammateInput
} from "../src/teammateRules.js"

const teammate = (fields: Partial<Teammate> = {}) =>
  new Teammate({
    id: TeammateId.make(randomUUID()),
    orgId: OrgId.make(randomUUID()),
    handle: "ada",
    name: "Ada",
    role: "Researcher",
    personality: "curious",
    instructions: "Find sources.",
    model: "gpt-4o-mini",
    tools: ["remember", "recall"],
    busyPolicy: "queue",
    template: null,
    monthlyTokenLimit: null,
    createdAt: new Date(),
    dismissed: false,
    ...fields
  })

const input = (fields: Partial<TeammateInput> = {}): TeammateInput => ({
  handle: "ada",
  name: "Ada",
  role: "Researcher",
  personality: "",
  instructions: "Find sources.",
  model: "",
  tools: ["remember"],
  busyPolicy: "merge",
  monthlyTokenLimit: "",
  ...fields
})

const policy = (fields: Partial<ModelPolicyView>) =>
  new ModelPolicyView({
    allowedModels: null,
    serverAllowedModels: null,
    defaultModel: "gpt-4o-mini",
    local: false,
    ...fields
  })

describe("the new-teammate form", () => {
  it("sends what the contract accepts, without a model when none was picked", () => {
    const request = newTeammate(input({ handle: " Ada ", name: "  Ada  " }), false)
    expect(Either.isRight(request)).toBe(true)
    if (Either.isRight(request)) {
      expect(request.right.handle).toBe("ada")
      expect(request.right.name).toBe("Ada")
      expect(request.right.model).toBeUndefined()
      expect(request.right.tools).toEqual(["remember"])
      expect(request.right.busyPolicy).toBe("merge")
    }
  })

  it("names the fields the contract refuses, each with its reason", () => {
    const request = newTeammate(input({ handle: "a", name: "", role: " ", instructions: "x".repeat(8001) }), false)
    expect(Either.isLeft(request)).toBe(true)
    if (Either.isLeft(request)) {
      expect(Object.keys(request.left).sort()).toEqual(["handle", "instructions", "name", "role"])
      expect(request.left["handle"]).toMatch(/2–32 characters/)
    }
    const roleless = newTeammate(input({ role: "  " }), false)
    expect(Either.isLeft(roleless) && roleless.left["role"]).toMatch(/role/)
  })

  it("sends a token limit only for those who may set one, and refuses one that is not a positive whole number", () => {
    const limited = newTeammate(input({ monthlyTokenLimit: "5000" }), true)
    expect(Either.isRight(limited) && limited.right.monthlyTokenLimit).toBe(5000)
    const ignored = newTeammate(input({ monthlyTokenLimit: "5000" }), false)
    expect(Either.isRight(ignored) && ignored.right.monthlyTokenLimit).toBeUndefined()
    const refused = newTeammate(input({ monthlyTokenLimit: "1.5" }), true)
    expect(Either.isLeft(refused) && Object.keys(refused.left)).toEqual(["monthlyTokenLimit"])
  })
})

describe("the models an org offers", () => {
  it("the org's list as the server narrows it, else the server's, else any; only local with the local model", () => {
    expect(modelChoices(policy({}))).toBeNull()
    expect(modelChoices(policy({ serverAllowedModels: ["a", "b"] }))).toEqual(["a", "b"])
    expect(modelChoices(policy({ allowedModels: ["b", "c"] }))).toEqual(["b", "c"])
    expect(modelChoices(policy({ allowedModels: ["b", "c"], serverAllowedModels: ["a", "b"] }))).toEqual(["b"])
    expect(modelChoices(policy({ local: true, allowedModels: ["b"] }))).toEqual(["local"])
  })
})

describe("editing a teammate's settings", () => {
  it("sends only what differs from the teammate as it is now", () => {
    const t = teammate()
    expect(changes(t, {}, true)).toEqual(Either.right({}))
    // Typing a value back to what it is, or the same tools in another order, changes nothing.
    expect(changes(t, { name: "Ada", tools: ["recall", "remember"] }, true)).toEqual(Either.right({}))
    const patch = changes(t, { instructions: "Cite everything.", tools: ["recall"] }, false)
    expect(Either.isRight(patch) && { ...patch.right }).toEqual({ instructions: "Cite everything.", tools: ["recall"] })
  })

  it("keeps what the person typed while the rest follows edits made elsewhere", () => {
    const before = teammate()
    const edits = { instructions: "Mine." }
    const after = new Teammate({ ...before, name: "Ada Lovelace", instructions: "Theirs." })
    expect(shown(after, edits)).toEqual({ ...inputOf(after), instructions: "Mine." })
    // Saving sends the person's field only: the other tab's rename is not sent back.
    const patch = changes(after, edits, false)
    expect(Either.isRight(patch) && { ...patch.right }).toEqual({ instructions: "Mine." })
  })

  it("clears a token limit with an empty field, for admins only", () => {
    const t = teammate({ monthlyTokenLimit: 1000 })
    const cleared = changes(t, { monthlyTokenLimit: "" }, true)
    expect(Either.isRight(cleared) && { ...cleared.right }).toEqual({ monthlyTokenLimit: null })
    expect(changes(t, { monthlyTokenLimit: "" }, false)).toEqual(Either.right({}))
    const refused = changes(t, { name: " " }, false)
    expect(Either.isLeft(refused) && Object.keys(refused.left)).toEqual(["name"])
  })
})

describe("runs", () => {
  const roomId = RoomId.make(randomUUID())
  const start = new Date("2025-05-01T10:00:00.000Z")
  const at = (ms: number) => new Date(start.getTime() + ms)
  const run = new Run({
    id: randomUUID(),
    teammateId: TeammateId.make(randomUUID()),
    roomId,
    threadId: null,
    triggerIds: [randomUUID()],
    status: "completed",
    model: "local",
    inputTokens: 30,
    outputTokens: 12,
    costUsd: 0,
    latencyMs: 40,
    error: null,
    replyMessageId: MessageId.make(randomUUID()),
    startedAt: start,
    finishedAt: at(900),
    steps: [
      new RunStep({
        index: 2,
        kind: "model",
        name: "local",
        input: { messages: 4 },
        output: { text: "Noted", toolCalls: [], inputTokens: 20, outputTokens: 5 },
        at: at(800),
        durationMs: null,
        error: null
      }),
      new RunStep({
        index: 0,
        kind: "model",
        name: "local",
        input: { messages: 2 },
        output: { text: "", toolCalls: ["remember"], inputTokens: 10, outputTokens: 7 },
        at: at(300),
        durationMs: 280,
        error: null
      }),
      new RunStep({
        index: 1,
        kind: "tool",
        name: "remember",
        input: {},
        output: "invalid arguments: fact is missing",
        at: at(350),
        durationMs: 12,
        error: "invalid arguments: fact is missing"
      })
    ]
  })

  it("reads steps in order with their tokens, their own durations (else the time since the step before) and errors", () => {
    expect(runDuration(run)).toBe(900)
    expect(runDuration(new Run({ ...run, finishedAt: null }))).toBeNull()
    expect(stepsOf(run).map((s) => [s.index, s.kind, s.inputTokens, s.outputTokens, s.durationMs])).toEqual([
      [0, "model", 10, 7, 280],
      [1, "tool", null, null, 12],
      [2, "model", 20, 5, 450]
    ])
    expect(stepsOf(run)[0]?.toolCalls).toEqual(["remember"])
    expect(stepsOf(run).map((s) => s.error)).toEqual([null, "invalid arguments: fact is missing", null])
  })
})

describe("a teammate in the state", () => {
  it("takes the server's answer to a change, keeps its busy state, and leaves when dismissed", () => {
    const t = teammate()
    const busy = { ...Model.initial, teammates: { [t.id]: { teammate: t, busy: true } } }
    const renamed = new Teammate({ ...t, name: "Ada L." })
    expect(Model.withTeammate(busy, renamed).teammates[t.id]).toEqual({ teammate: renamed, busy: true })
    expect(Model.withTeammate(busy, new Teammate({ ...t, dismissed: true })).teammates).toEqual({})
  })
})
