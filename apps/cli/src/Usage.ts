/**
 * `troupe usage`, `troupe budget` and `troupe models`: the month's tokens and
 * cost, the org's monthly token budget, and which models its teammates may
 * use. Reading is for members; setting is for admins (the server decides,
 * and its refusal is exit 2).
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { bold, listing } from "./Output.js"
import { anOrg, Failure, inGroup, json, orgOption, url } from "./Session.js"

const tokens = (n: number) => n.toLocaleString("en-US")

/** `troupe usage`: this month's runs, tokens and cost, in total and per teammate. */
export const usage = Command.make("usage", { url, json, org: orgOption }, (input) =>
  Effect.gen(function*() {
    const { org, s } = yield* anOrg(input)
    const used = yield* s.call(s.api.teammates.usage({ path: { org: org.id } }))
    const mates = yield* s.call(s.api.teammates.list({ path: { org: org.id } }))
    const handle = (id: string | null) => {
      const mate = mates.find((t) => t.id === id)
      return mate === undefined ? (id ?? "") : `@${mate.handle}`
    }
    const line = (who: string, u: typeof used.total) => ({
      who,
      runs: u.runs,
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      costUsd: u.costUsd
    })
    if (input.json) {
      yield* Console.log(JSON.stringify({
        month: used.month,
        monthlyTokenBudget: used.monthlyTokenBudget,
        total: line("total", used.total),
        teammates: used.teammates.map((u) => ({ ...line(handle(u.teammateId), u), teammateId: u.teammateId }))
      }))
      return
    }
    const spent = used.total.inputTokens + used.total.outputTokens
    yield* Console.log(
      `${bold(used.month)}: ${tokens(spent)} tokens${
        used.monthlyTokenBudget === null ? " (no budget)" : ` of a budget of ${tokens(used.monthlyTokenBudget)}`
      }, $${used.total.costUsd.toFixed(4)}`
    )
    yield* listing(
      false,
      [...used.teammates.map((u) => line(handle(u.teammateId), u)), line("total", used.total)],
      ["TEAMMATE", "RUNS", "TOKENS IN", "TOKENS OUT", "COST $"],
      (l) => [l.who, String(l.runs), tokens(l.inputTokens), tokens(l.outputTokens), l.costUsd.toFixed(4)],
      (l) => l
    )
  })).pipe(Command.withDescription("this month's runs, tokens and cost, in total and per teammate"))

const budgetGroup = Command.make("budget", { url, json, org: orgOption }, (input) =>
  Effect.gen(function*() {
    const { org, s } = yield* anOrg(input)
    const used = yield* s.call(s.api.teammates.usage({ path: { org: org.id } }))
    const spent = used.total.inputTokens + used.total.outputTokens
    yield* Console.log(
      input.json
        ? JSON.stringify({ month: used.month, monthlyTokenBudget: used.monthlyTokenBudget, usedTokens: spent })
        : used.monthlyTokenBudget === null
        ? `No monthly token budget; ${tokens(spent)} tokens used in ${used.month}.`
        : `${tokens(spent)} of ${tokens(used.monthlyTokenBudget)} tokens used in ${used.month}.`
    )
  }))

const budgetSet = Command.make(
  "set",
  {
    url,
    org: orgOption,
    tokens: Args.text({ name: "tokens" }).pipe(
      Args.withDescription("the monthly token budget, a positive whole number, or `none` to lift it")
    )
  },
  inGroup(budgetGroup, (input) =>
    Effect.gen(function*() {
      const monthlyTokens = input.tokens === "none" ? null : Number(input.tokens.replace(/[_,]/g, ""))
      if (monthlyTokens !== null && !(Number.isSafeInteger(monthlyTokens) && monthlyTokens > 0)) {
        return yield* new Failure({
          message: `${input.tokens} is not a budget: give a positive whole number of tokens, or none`,
          code: 1
        })
      }
      const { org, s } = yield* anOrg(input)
      yield* s.call(s.api.teammates.budget({ path: { org: org.id }, payload: { monthlyTokens } }))
      yield* Console.log(
        monthlyTokens === null
          ? `${org.name} has no monthly token budget now.`
          : `${org.name}'s monthly token budget is ${tokens(monthlyTokens)} tokens.`
      )
    }))
).pipe(Command.withDescription("set the org's monthly token budget (admins)"))

const modelsGroup = Command.make("models", { url, json, org: orgOption }, (input) =>
  Effect.gen(function*() {
    const { org, s } = yield* anOrg(input)
    const policy = yield* s.call(s.api.teammates.modelPolicy({ path: { org: org.id } }))
    if (input.json) {
      yield* Console.log(JSON.stringify({
        allowedModels: policy.allowedModels,
        serverAllowedModels: policy.serverAllowedModels,
        defaultModel: policy.defaultModel,
        local: policy.local
      }))
      return
    }
    const any = (list: ReadonlyArray<string> | null) => list === null ? "any" : list.join(", ")
    yield* Console.log(
      [
        policy.local ? "The server runs the local model: every teammate is `local` and the lists do not apply." : "",
        `default model:  ${policy.defaultModel}`,
        `server allows:  ${any(policy.serverAllowedModels)}`,
        `org allows:     ${any(policy.allowedModels)}`
      ].filter((l) => l !== "").join("\n")
    )
  }))

const modelsAllow = Command.make(
  "allow",
  {
    url,
    org: orgOption,
    any: Options.boolean("any").pipe(Options.withDescription("lift the org's list: any model the server allows")),
    models: Args.text({ name: "model" }).pipe(Args.repeated)
  },
  inGroup(modelsGroup, (input) =>
    Effect.gen(function*() {
      if (input.any === (input.models.length > 0)) {
        return yield* new Failure({ message: "name the models to allow, or pass --any (not both)", code: 1 })
      }
      const { org, s } = yield* anOrg(input)
      const policy = yield* s.call(s.api.teammates.setModelPolicy({
        path: { org: org.id },
        payload: { allowedModels: input.any ? null : input.models }
      }))
      yield* Console.log(
        policy.allowedModels === null
          ? `${org.name}'s teammates may use any model the server allows.`
          : `${org.name}'s teammates may use: ${policy.allowedModels.join(", ")}.`
      )
    }))
).pipe(Command.withDescription("set the models the org's teammates may use (admins)"))

/** `troupe budget [set TOKENS|none]`. */
export const budget = budgetGroup.pipe(
  Command.withDescription("the org's monthly token budget; `budget set` changes it"),
  Command.withSubcommands([budgetSet])
)

/** `troupe models [allow MODEL…|--any]`. */
export const models = modelsGroup.pipe(
  Command.withDescription("which models the org's teammates may use; `models allow` sets it"),
  Command.withSubcommands([modelsAllow])
)
