import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { AccountRepo } from "../src/AccountRepo.js"
import * as Database from "../src/Database.js"
import { LogWaker } from "../src/EventLog.js"
import { OrgRepo } from "../src/OrgRepo.js"
import { RECALL_CANDIDATES, TeammateRepo } from "../src/TeammateRepo.js"

const Repos = Layer.mergeAll(AccountRepo.Default, OrgRepo.Default, TeammateRepo.Default).pipe(
  Layer.provide(LogWaker.none),
  Layer.provideMerge(Database.layerTest)
)

/** An org with a teammate, its memories added by the tables' owner: `texts[0]` is the newest. */
const teammateWith = (name: string, texts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const accounts = yield* AccountRepo
    const orgs = yield* OrgRepo
    const teammates = yield* TeammateRepo
    const admin = yield* Database.AdminSql
    const tag = randomBytes(3).toString("hex")
    const { user } = yield* accounts.signup({ email: `${name}-${tag}@example.com`, password: "long enough pw", name })
    const org = yield* orgs.create(user, { name, slug: `${name}-${tag}` })
    const teammate = yield* teammates.create(org.id, user.id, {
      handle: `keeper${tag}`,
      name: "Keeper",
      role: "Keeps notes",
      personality: "",
      instructions: "",
      model: "gpt-4o-mini",
      tools: ["remember", "recall"],
      busyPolicy: "queue",
      template: null,
      monthlyTokenLimit: null
    })
    yield* admin`INSERT INTO memories (org_id, teammate_id, text, created_at)
      SELECT ${org.id}, ${teammate.id}, t.text, now() - make_interval(secs => t.n::int)
      FROM unnest(${texts}::text[]) WITH ORDINALITY AS t(text, n)`
    yield* admin`ANALYZE memories`
    return { org, teammate }
  })

describe("memory recall", () => {
  layer(Repos, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("finds a rare memory among many common ones, and ranks the closer match first", () =>
      Effect.gen(function*() {
        const teammates = yield* TeammateRepo
        const common = Array.from({ length: 600 }, (_, i) => `weekly team meeting notes number ${i}`)
        const { org, teammate } = yield* teammateWith("alpha", [
          ...common.slice(0, 300),
          "the Lisbon offsite is booked for June",
          "Lisbon, Lisbon, Lisbon: the offsite venue in Lisbon has a rooftop",
          ...common.slice(300)
        ])
        const rare = yield* teammates.recall(org.id, teammate.id, "lisbon", 5)
        expect(rare.map((m) => m.text)).toEqual([
          "Lisbon, Lisbon, Lisbon: the offsite venue in Lisbon has a rooftop",
          "the Lisbon offsite is booked for June"
        ])
        const both = yield* teammates.recall(org.id, teammate.id, "what about the lisbon offsite?", 5)
        expect(both).toHaveLength(2)
        const many = yield* teammates.recall(org.id, teammate.id, "team meeting", 5)
        expect(many).toHaveLength(5)
        const none = yield* teammates.recall(org.id, teammate.id, "kangaroo", 5)
        expect(none).toEqual([])
      }))

    it.effect(`ranks only the ${RECALL_CANDIDATES} newest matches of a common word`, () =>
      Effect.gen(function*() {
        const teammates = yield* TeammateRepo
        const newer = Array.from({ length: RECALL_CANDIDATES }, (_, i) => `budget line ${i} approved`)
        const { org, teammate } = yield* teammateWith("beta", [
          "budget review: the budget, the budget and the budget again",
          ...newer.slice(1),
          "budget budget budget budget budget, the oldest and wordiest note"
        ])
        const found = yield* teammates.recall(org.id, teammate.id, "budget", 3)
        expect(found[0]?.text).toBe("budget review: the budget, the budget and the budget again")
        expect(found.map((m) => m.text)).not.toContain(
          "budget budget budget budget budget, the oldest and wordiest note"
        )
      }))

    it.effect("never recalls another org's memories", () =>
      Effect.gen(function*() {
        const teammates = yield* TeammateRepo
        const a = yield* teammateWith("gamma", ["the vault code is kept in the blue folder"])
        const b = yield* teammateWith("delta", ["our own notes about folders"])
        expect(yield* teammates.recall(a.org.id, a.teammate.id, "vault folder", 5)).toHaveLength(1)
        expect(yield* teammates.recall(b.org.id, a.teammate.id, "vault folder", 5)).toEqual([])
        expect(yield* teammates.recall(b.org.id, b.teammate.id, "vault", 5)).toEqual([])
      }))
  })
})
