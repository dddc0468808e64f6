import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { databaseLossUnavailable } from "../src/http/ErrorShape.js"

const request = HttpServerRequest.fromWeb(new Request("http://127.0.0.1/v1/rooms/r/messages", { method: "POST" }))
const run = (app: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>) =>
  databaseLossUnavailable(app).pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, request), Effect.exit)

describe("database errors no code path typed", () => {
  it.effect("a request that died of a SqlError (a lost COMMIT) answers a typed 503", () =>
    Effect.gen(function*() {
      const exit = yield* run(Effect.die(new SqlError({ message: "Connection terminated unexpectedly" })))
      expect(Exit.isSuccess(exit)).toBe(true)
      if (Exit.isSuccess(exit)) {
        expect(exit.value.status).toBe(503)
        const body = exit.value.body
        expect(body._tag === "Uint8Array" && JSON.parse(new TextDecoder().decode(body.body))._tag).toBe("Unavailable")
      }
    }))

  it.effect("other defects are left for the server's 500", () =>
    Effect.gen(function*() {
      const exit = yield* run(Effect.die(new Error("a bug")))
      expect(Exit.isFailure(exit)).toBe(true)
    }))
})
