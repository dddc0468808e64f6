/**
 * Malformed requests generated from the OpenAPI document: for every
 * operation, broken types, nesting, sizes, Unicode, headers, ids and cursors.
 * None may get a 5xx or a reset, every refusal is the documented JSON error
 * without the rejected value in it, and nothing stored changes.
 *
 * `npm test` sends `FUZZ_REQUESTS` (default 10,000) requests from seed
 * `FUZZ_SEED`; `npm run fuzz` sends 100,000.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Database from "@troupe/store/Database"
import { Effect, Option } from "effect"
import { Agent, request } from "node:http"
import { anaAndBen, baseUrl, eventually, person, slug, testChannelKey, TestServer } from "./Harness.js"

const budget = Number(process.env["FUZZ_REQUESTS"] ?? 10_000)
const seed = Number(process.env["FUZZ_SEED"] ?? 20_261_129)
const concurrency = 8

/** A small, fast, seeded PRNG (mulberry32). */
const prng = (start: number) => {
  let a = start >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(items.length)]!
  return { next, int, pick, chance: (p: number) => next() < p }
}
type Rng = ReturnType<typeof prng>

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonSchema = { readonly [key: string]: unknown }

interface Operation {
  readonly id: string
  readonly method: string
  readonly path: string
  readonly pathParams: ReadonlyArray<string>
  /** Path parameters that are ids (UUIDs): the ones a wrong value is sure to break. */
  readonly idParams: ReadonlyArray<string>
  readonly query: ReadonlyArray<{ readonly name: string; readonly schema: JsonSchema }>
  readonly body: JsonSchema | undefined
  readonly secured: boolean
}

const isObject = (u: unknown): u is JsonSchema => typeof u === "object" && u !== null && !Array.isArray(u)

/** The operations of an OpenAPI document, with `$ref`s resolved. */
const operationsOf = (spec: JsonSchema): ReadonlyArray<Operation> => {
  const schemas = isObject(spec["components"]) && isObject(spec["components"]["schemas"])
    ? spec["components"]["schemas"]
    : {}
  const resolve = (s: unknown): JsonSchema => {
    if (!isObject(s)) return {}
    const ref = s["$ref"]
    if (typeof ref === "string") return resolve(schemas[ref.replace("#/components/schemas/", "")])
    return s
  }
  const out: Array<Operation> = []
  for (const [path, item] of Object.entries(isObject(spec["paths"]) ? spec["paths"] : {})) {
    if (!isObject(item)) continue
    for (const [method, op] of Object.entries(item)) {
      if (!isObject(op)) continue
      const params = Array.isArray(op["parameters"]) ? op["parameters"].filter(isObject) : []
      const content = isObject(op["requestBody"]) && isObject(op["requestBody"]["content"])
        ? op["requestBody"]["content"]
        : {}
      const json = isObject(content["application/json"]) ? content["application/json"] : undefined
      out.push({
        id: String(op["operationId"]),
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p["in"] === "path").map((p) => String(p["name"])),
        idParams: params.filter((p) => p["in"] === "path" && resolve(p["schema"])["format"] === "uuid").map((p) =>
          String(p["name"])
        ),
        query: params.filter((p) => p["in"] === "query").map((p) => ({
          name: String(p["name"]),
          schema: resolve(p["schema"])
        })),
        body: json === undefined ? undefined : resolve(json["schema"]),
        secured: Array.isArray(op["security"]) && op["security"].length > 0
      })
    }
  }
  return out
}

/** The JSON types a schema accepts. */
const typesOf = (schema: JsonSchema, resolve: (s: unknown) => JsonSchema): ReadonlySet<string> => {
  const types = new Set<string>()
  const walk = (s: JsonSchema) => {
    if (typeof s["type"] === "string") types.add(s["type"] === "integer" ? "number" : s["type"])
    if (Array.isArray(s["enum"])) { for (const v of s["enum"]) types.add(v === null ? "null" : typeof v) }
    for (const key of ["anyOf", "oneOf", "allOf"]) {
      const options = s[key]
      if (Array.isArray(options)) { for (const o of options) walk(resolve(o)) }
    }
    if (s["$ref"] !== undefined) walk(resolve(s))
  }
  walk(schema)
  return types
}

const junkIds = [
  "abc",
  "0",
  "-1",
  "not-a-uuid",
  "00000000-0000-0000-0000-00000000000g",
  "%00",
  "..%2F..%2Fetc%2Fpasswd",
  "%27%20OR%201%3D1%20--",
  "x".repeat(5000),
  "%ED%A0%80",
  "%F0%9F%9A%80",
  "%C3%BC",
  "null",
  "undefined",
  "%20",
  "1e999"
]

const cursorJunk = [
  "",
  "~",
  "12~",
  "~3",
  "-5",
  "1e5",
  "99999999999999999999",
  "0x10",
  "12~3~4",
  "%00",
  "NaN",
  "abc",
  "1.5",
  "%ED%A0%80"
]
const numberJunk = ["abc", "-1", "0", "1e309", "99999999999", "1.5", "", "NaN", "Infinity", "%00", "0x10", "1,2"]
const stringJunk = ["", " ", "x".repeat(5000), "%00", "%ED%A0%80", "%F0%9F%9A%80", "'", "\"", "<script>", "%E2%80%AE"]

/** Values of every JSON type but the ones `allowed`. */
const wrongValue = (rng: Rng, allowed: ReadonlySet<string>): Json => {
  const candidates: Array<Json> = [
    ...(allowed.has("string") ? [] : ["text", ""]),
    ...(allowed.has("number") ? [] : [42, -1, 1.5, 1e300]),
    ...(allowed.has("boolean") ? [] : [true, false]),
    ...(allowed.has("array") ? [] : [[], ["a"], [1, 2]]),
    ...(allowed.has("object") ? [] : [{}, { a: 1 }]),
    ...(allowed.has("null") ? [] : [null])
  ]
  return candidates.length === 0 ? [[[[]]]] : rng.pick(candidates)
}

/** A plausible value for a schema (it may or may not be valid). */
const sample = (
  rng: Rng,
  schema: JsonSchema,
  resolve: (s: unknown) => JsonSchema,
  ids: ReadonlyArray<string>,
  depth = 0
): Json => {
  const types = [...typesOf(schema, resolve)]
  // An `enum` of the document is JSON values by definition (the document is JSON).
  if (Array.isArray(schema["enum"])) return rng.pick(schema["enum"] as ReadonlyArray<Json>)
  const type = types.length === 0 ? "string" : rng.pick(types)
  switch (type) {
    case "string":
      return schema["format"] === "uuid"
        ? rng.pick(ids)
        : rng.pick(["hello", "x", "@mia hi", "launch \u{1F680}", "a b"])
    case "number":
      return rng.pick([1, 5, 100])
    case "boolean":
      return rng.chance(0.5)
    case "null":
      return null
    case "array": {
      const items = resolve(schema["items"])
      return depth > 3 ? [] : [sample(rng, items, resolve, ids, depth + 1)]
    }
    default: {
      const properties = isObject(schema["properties"]) ? schema["properties"] : {}
      if (depth > 3) return {}
      return Object.fromEntries(
        Object.entries(properties).map(([k, v]) => [k, sample(rng, resolve(v), resolve, ids, depth + 1)])
      )
    }
  }
}

interface Fuzzed {
  readonly label: string
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: Buffer | undefined
}

/** Percent-encodes what a request line cannot carry, keeping the `%XX` escapes the junk lists spell out. */
const wire = (s: string) => s.replace(/[^A-Za-z0-9%._~!$&'()*+,;=:@/-]/gu, (c) => encodeURIComponent(c))

const deep = (rng: Rng) => {
  const n = rng.pick([33, 100, 5000, 20_000])
  return rng.chance(0.5) ? "[".repeat(n) + "]".repeat(n) : "{\"a\":".repeat(n) + "1" + "}".repeat(n)
}

/**
 * A request to `op` that must be refused: each one breaks at least one thing
 * the server checks before it changes anything (a path id, the token, the
 * body), and may add noise that is harmless on its own.
 */
const fuzz = (
  rng: Rng,
  op: Operation,
  tokens: { readonly insiders: ReadonlyArray<string>; readonly outsider: string },
  ids: ReadonlyArray<string>,
  resolve: (s: unknown) => JsonSchema
): Fuzzed => {
  const breakers: Array<"path" | "auth" | "body" | "foreign"> = []
  if (op.idParams.length > 0) breakers.push("path", "foreign")
  if (op.secured) breakers.push("auth")
  if (op.body !== undefined) breakers.push("body", "body", "body")
  const reads = op.method === "GET"
  const breaker = breakers.length === 0 || (reads && rng.chance(0.3)) ? "none" : rng.pick(breakers)
  const labels: Array<string> = [breaker]

  const params: Record<string, string> = {}
  for (const p of op.pathParams) {
    params[p] = op.idParams.includes(p) ? rng.pick(ids.slice(0, -1)) : rng.pick(["tada", "+1", "org", "persona", "x"])
  }
  if (breaker === "path") {
    const p = rng.pick(op.idParams)
    params[p] = wire(rng.pick(junkIds))
    labels.push(`path ${p}`)
  }
  if (breaker === "foreign") {
    const p = rng.pick(op.idParams)
    params[p] = ids[ids.length - 1]!
    labels.push(`foreign ${p}`)
  }
  let path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? "x")

  const query: Array<string> = []
  for (const q of op.query) {
    if (!rng.chance(0.7)) continue
    const types = typesOf(q.schema, resolve)
    const junk = q.name === "after"
      ? cursorJunk
      : types.has("number") || q.schema["type"] === "string" && q.name !== "q"
      ? numberJunk
      : stringJunk
    query.push(`${q.name}=${rng.chance(0.8) ? wire(rng.pick(junk)) : "1"}`)
  }
  // A long-poll waits for its timeout: keep it short.
  if (op.id === "events.poll") query.push("timeoutMs=0")
  if (rng.chance(0.1)) query.push(`${rng.pick(["unknown", "limit", "after"])}=${wire(rng.pick(stringJunk))}`)
  if (query.length > 0) path += `?${query.join("&")}`

  const headers: Record<string, string> = {}
  // The foreign id belongs to the outsider: only the org's own people may aim at it.
  const token = breaker === "foreign" || rng.chance(0.8) ? rng.pick(tokens.insiders) : tokens.outsider
  if (breaker === "auth") {
    const bad = rng.pick([
      "",
      "Bearer",
      "Bearer ",
      "Bearer trp_s_nope",
      "Basic YTpi",
      "Bearer " + "t".repeat(10_000),
      "bearer trp_k_x",
      "Bearer \u00ff\u00fe"
    ])
    if (bad !== "") headers["authorization"] = bad
    labels.push("bad token")
  } else if (op.secured) headers["authorization"] = `Bearer ${token}`
  if (rng.chance(0.05)) headers["x-filler"] = "f".repeat(rng.pick([17_000, 40_000]))
  if (rng.chance(0.1)) headers["last-event-id"] = rng.pick(cursorJunk)
  if (rng.chance(0.05)) headers["x-forwarded-for"] = rng.pick(["::1", "not an ip", "1.2.3.4, 5.6.7.8", "\u00ff"])

  let body: Buffer | undefined
  if (op.body !== undefined || rng.chance(0.1)) {
    const schema = op.body ?? {}
    const value = sample(rng, schema, resolve, ids)
    let text = JSON.stringify(value)
    if (breaker === "body") {
      const properties = isObject(schema["properties"]) ? Object.keys(schema["properties"]) : []
      const required = Array.isArray(schema["required"]) ? schema["required"].map(String) : []
      const kind = rng.pick([
        "type",
        "missing",
        "nesting",
        "size",
        "surrogate",
        "nul",
        "syntax",
        "shape",
        "contentType",
        "empty"
      ])
      labels.push(`body ${kind}`)
      const obj = isObject(value) ? { ...value } : {}
      switch (kind) {
        case "type": {
          if (properties.length === 0) {
            text = JSON.stringify(wrongValue(rng, typesOf(schema, resolve)))
            break
          }
          const key = rng.pick(required.length > 0 ? required : properties)
          const propSchema = resolve(isObject(schema["properties"]) ? schema["properties"][key] : {})
          text = JSON.stringify({ ...obj, [key]: wrongValue(rng, typesOf(propSchema, resolve)) })
          break
        }
        case "missing": {
          if (required.length === 0) text = "[]"
          else {
            const { [rng.pick(required)]: _, ...rest } = obj
            text = JSON.stringify(rest)
          }
          break
        }
        case "nesting":
          text = deep(rng)
          break
        case "size":
          text = JSON.stringify({ ...obj, [properties[0] ?? "x"]: "s".repeat(rng.pick([300_000, 1_000_000])) })
          break
        case "surrogate":
          text = JSON.stringify({ ...obj, [rng.pick(properties.length > 0 ? properties : ["x"])]: "a" }).replace(
            /"a"/,
            rng.pick(["\"\\ud800\"", "\"x\\udfff\"", "\"\\udc00\\ud800\""])
          )
          break
        case "nul":
          text = JSON.stringify({ ...obj, [rng.pick(properties.length > 0 ? properties : ["x"])]: "a\u0000b" })
          break
        case "syntax":
          text = rng.pick([
            text.slice(0, Math.max(1, text.length - 1)),
            `${text} trailing`,
            text.replace(/"/g, "'"),
            `\uFEFF${text}`,
            "{",
            "nul",
            "{\"a\":}"
          ])
          break
        case "shape":
          text = rng.pick(["null", "[]", "\"string\"", "42", "true"])
          break
        case "contentType":
          headers["content-type"] = rng.pick([
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/xml",
            "multipart/form-data; boundary=x"
          ])
          break
        case "empty":
          text = ""
          break
      }
    } else if (rng.chance(0.2)) {
      labels.push("unicode noise")
      text = text.replace(/"hello"/, "\"\u202Ehello\u0301 \u{1F680}\"")
    }
    headers["content-type"] ??= rng.chance(0.9) ? "application/json" : "application/json; charset=utf-8"
    body = Buffer.from(text)
    if (rng.chance(0.03)) body = Buffer.concat([body, Buffer.from([0xff, 0xfe, 0xc3])])
  }
  return { label: `${op.id} [${labels.join(", ")}]`, method: op.method, path, headers, body }
}

interface Outcome {
  readonly status: number
  readonly contentType: string
  readonly text: string
  readonly error: string | undefined
}

const send = (agent: Agent, base: URL, f: Fuzzed) =>
  Effect.async<Outcome>((resume) => {
    const req = request({
      agent,
      host: base.hostname,
      port: base.port,
      method: f.method,
      path: f.path,
      headers: { ...f.headers, ...(f.body === undefined ? {} : { "content-length": String(f.body.length) }) }
    }, (res) => {
      const stream = (res.headers["content-type"] ?? "").includes("text/event-stream")
      let text = ""
      res.on("data", (chunk: Buffer) => {
        if (text.length < 8192) text += chunk.toString()
      })
      res.on("end", () =>
        resume(
          Effect.succeed({
            status: res.statusCode ?? 0,
            contentType: res.headers["content-type"] ?? "",
            text,
            error: undefined
          })
        ))
      if (stream) {
        req.destroy()
        resume(
          Effect.succeed({ status: res.statusCode ?? 0, contentType: "text/event-stream", text: "", error: undefined })
        )
      }
    })
    req.on("error", (e) => resume(Effect.succeed({ status: 0, contentType: "", text: "", error: e.message })))
    if (f.body !== undefined) {
      req.write(f.body)
    }
    req.end()
  })

/** Every table's content, hashed, and the event log's position: "nothing stored changed" is this staying equal. */
const storedState = Effect.gen(function*() {
  const sql = yield* Database.AdminSql
  const tables = yield* sql<{ name: string }>`
    SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'cluster_%'
      AND tablename NOT LIKE 'effect_%' ORDER BY tablename`
  const state: Record<string, string> = {}
  for (const { name } of tables) {
    const rows = yield* sql.unsafe<{ digest: string }>(
      `SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM "${name}" t`
    )
    state[name] = rows[0]?.digest ?? ""
  }
  return state
})

describe("fuzzing from the OpenAPI document", () => {
  layer(TestServer({ CHANNEL_KEY: testChannelKey }), { excludeTestServices: true, timeout: 600_000 })((it) => {
    it.effect(
      `${budget} malformed requests: no 5xx, no reset, documented errors, nothing stored changes`,
      () =>
        Effect.gen(function*() {
          const { ana, ben, org, room } = yield* anaAndBen
          const message = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "hello world" } })
          const teammate = yield* ana.api.teammates.hire({
            path: { org: org.id },
            payload: { template: "researcher", handle: "rhea" }
          })
          const key = yield* ana.api.orgs.createApiKey({ path: { org: org.id }, payload: { name: "ci" } })
          const memory = yield* ana.api.teammates.remember({
            path: { org: org.id, teammate: teammate.id },
            payload: { text: "a fact" }
          })
          const pin = yield* ana.api.pins.create({ path: { room: room.id }, payload: { text: "a note" } })
          const channel = yield* ana.api.channels.create({
            path: { org: org.id },
            payload: { kind: "slack", name: "Acme", botToken: "xoxb-fuzz-token", signingSecret: "fuzz-signing-secret" }
          })
          const eve = yield* person("Eve")
          const eveOrg = yield* eve.api.orgs.create({ payload: { name: "Elsewhere", slug: slug() } })
          const eveRoom = yield* eve.api.rooms.create({ path: { org: eveOrg.id }, payload: { name: "theirs" } })
          const ids = [
            org.id,
            room.id,
            message.id,
            teammate.id,
            key.key.id,
            ana.user.id,
            ben.user.id,
            memory.id,
            pin.id,
            channel.id,
            eveRoom.id
          ]
          const url = new URL(yield* baseUrl)
          const specText = yield* Effect.promise(() => fetch(`${url.origin}/v1/openapi.json`).then((r) => r.text()))
          const spec: unknown = JSON.parse(specText)
          const operations = operationsOf(isObject(spec) ? spec : {})
          expect(operations.length).toBe(123)
          const components = isObject(spec) && isObject(spec["components"]) && isObject(spec["components"]["schemas"])
            ? spec["components"]["schemas"]
            : {}
          const resolve = (s: unknown): JsonSchema => {
            if (!isObject(s)) return {}
            const ref = s["$ref"]
            return typeof ref === "string" ? resolve(components[ref.replace("#/components/schemas/", "")]) : s
          }

          // The outboxes (teammates', gateway's, webhooks') record how far they have read the log: let them catch up with the set-up first.
          yield* eventually(Effect.map(
            Effect.flatMap(Database.AdminSql, (sql) =>
              sql<
                { caught: boolean }
              >`SELECT (SELECT min(position) FROM log_cursors WHERE name IN ('teammates', 'gateway', 'webhooks'))
                >= (SELECT position FROM event_log_state) AS caught`),
            (rows) => rows[0]?.caught === true ? Option.some(true) : Option.none()
          ))
          const before = yield* storedState
          const rng = prng(seed)
          const tokens = { insiders: [ana.token, ana.token, ben.token, key.secret], outsider: eve.token }
          const requests = Array.from(
            { length: budget },
            (_, i) => fuzz(rng, operations[i % operations.length]!, tokens, ids, resolve)
          )
          const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
          const failures: Array<string> = []
          const statuses = new Map<number, number>()
          yield* Effect.forEach(requests, (f) =>
            Effect.map(send(agent, url, f), (o) => {
              statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1)
              if (o.error !== undefined) failures.push(`${f.label}: connection error ${o.error}`)
              else if (o.status >= 500) failures.push(`${f.label}: ${o.status} ${o.text.slice(0, 300)}`)
              else if (o.status >= 400) {
                const json: unknown = o.contentType.includes("application/json") ? JSON.parse(o.text || "null") : null
                if (!isObject(json) || typeof json["_tag"] !== "string" || typeof json["message"] !== "string") {
                  failures.push(`${f.label}: ${o.status} without the JSON error shape: ${o.text.slice(0, 200)}`)
                } else if (o.text.length > 4096) {
                  failures.push(`${f.label}: ${o.status} error of ${o.text.length} bytes`)
                }
              } else if (f.method !== "GET") failures.push(`${f.label}: a write was accepted (${o.status})`)
            }), { concurrency, discard: true })
          agent.destroy()
          expect(failures.slice(0, 20)).toEqual([])
          expect([...statuses.keys()].every((s) => s < 500)).toBe(true)
          expect(yield* storedState).toEqual(before)
        }),
      Math.max(180_000, budget * 30)
    )
  })
})
