/**
 * Requests from the browser through the typed client derived from the
 * contract (`@troupe/client`): every call's input, output and errors are the
 * contract's. Failures become an `ApiError` with the server's message.
 */
import { FetchHttpClient } from "@effect/platform"
import * as TroupeClient from "@troupe/client/TroupeClient"
import { Cause, Effect, Exit, ManagedRuntime, Option } from "effect"

/** A request that did not succeed: the contract's error tag (or `Network`) and a message for people. */
export class ApiError extends Error {
  constructor(readonly tag: string, message: string) {
    super(message)
    this.name = "ApiError"
  }
}

const runtime = ManagedRuntime.make(FetchHttpClient.layer)

const clients = new Map<string, TroupeClient.TroupeClient>()

const clientFor = (token: string | null) =>
  Effect.suspend(() => {
    const key = token ?? ""
    const cached = clients.get(key)
    if (cached !== undefined) return Effect.succeed(cached)
    return Effect.tap(
      TroupeClient.make({ baseUrl: window.location.origin, token: token ?? undefined }),
      (client) => Effect.sync(() => clients.set(key, client))
    )
  })

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && key in value ? Reflect.get(value, key) : undefined

/** The contract's errors carry `_tag` and `message`; transport failures become `Network`. */
export const toApiError = (error: unknown): ApiError => {
  const tag = field(error, "_tag")
  const message = field(error, "message")
  if (tag === "RequestError" || tag === "ResponseError") {
    return new ApiError("Network", "Troupe could not be reached. Check the connection; it will retry.")
  }
  if (typeof tag === "string" && typeof message === "string") return new ApiError(tag, message)
  if (tag === "ParseError") return new ApiError("Unexpected", "the server's answer was not understood")
  return new ApiError("Unexpected", typeof message === "string" ? message : "something went wrong")
}

/** Runs one request with the session's token (or none) and resolves with its result. */
export const call = async <A, E>(
  token: string | null,
  request: (client: TroupeClient.TroupeClient) => Effect.Effect<A, E>
): Promise<A> => {
  const exit = await runtime.runPromiseExit(Effect.flatMap(clientFor(token), request))
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.failureOption(exit.cause)
  throw Option.isSome(failure) ? toApiError(failure.value) : toApiError(Cause.squash(exit.cause))
}

/** Forgets the client built for a token (after log-out). */
export const forget = (token: string) => {
  clients.delete(token)
}

/** Runs an effect that needs nothing but an HTTP client (the event stream). */
export const runFork = <A, E>(effect: Effect.Effect<A, E>) => runtime.runFork(effect)
