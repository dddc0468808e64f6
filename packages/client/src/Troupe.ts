/**
 * Troupe for code that does not use Effect: promises and async iteration
 * over the same typed client. Every endpoint is reached through `call`,
 * with the contract's own types; failures reject with the API's typed error
 * (`_tag` and `message`, as documented in docs/api.md).
 *
 * ```ts
 * const troupe = Troupe.create({ baseUrl: "http://127.0.0.1:8787" })
 * await troupe.signup({ email: "ana@example.com", password: "correct horse battery", name: "Ana" })
 * const org = await troupe.call((api) => api.orgs.create({ payload: { name: "Acme", slug: "acme" } }))
 * for await (const delivered of troupe.events()) console.log(delivered.event.type)
 * ```
 */
import { FetchHttpClient } from "@effect/platform"
import type { Delivered } from "@troupe/domain/Event"
import type { LoginRequest, Session, SignupRequest } from "@troupe/domain/User"
import { Effect, Either, Stream } from "effect"
import * as EventStream from "./EventStream.js"
import * as TroupeClient from "./TroupeClient.js"

/** Runs `effect`, resolving with its value or rejecting with its typed failure (not a wrapper). */
const settle = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.either(effect)).then(Either.match({
    onLeft: (e) => Promise.reject(e),
    onRight: (a) => a
  }))

/** A Troupe server, as one person (or API key) sees it. */
export interface Troupe {
  /** The token calls are made with (a session's, or an API key), once there is one. */
  readonly token: () => string | undefined
  /** Signs up; later calls use the new session. */
  readonly signup: (request: typeof SignupRequest.Encoded) => Promise<Session>
  /** Logs in; later calls use the new session. */
  readonly login: (request: typeof LoginRequest.Encoded) => Promise<Session>
  /** Calls any endpoint: `call((api) => api.rooms.list({ path: { org } }))`. */
  readonly call: <A, E>(f: (api: TroupeClient.TroupeClient) => Effect.Effect<A, E>) => Promise<A>
  /**
   * The caller's events, from `lastEventId` on (or from now), reconnecting
   * after drops and server restarts with the last id read (nothing missed,
   * nothing twice), until the loop stops or `access.revoked` ends them. A
   * `reset` event means: read a fresh snapshot, then go on.
   */
  readonly events: (options?: { readonly lastEventId?: string | undefined }) => AsyncIterable<Delivered>
}

/** A client for the server at `baseUrl`, with a token (a session's or an API key) or none yet. */
export const create = (options: { readonly baseUrl: string; readonly token?: string | undefined }): Troupe => {
  const baseUrl = options.baseUrl.replace(/\/+$/, "")
  let token = options.token
  let client: Promise<TroupeClient.TroupeClient> | undefined = undefined
  const api =
    () => (client ??= settle(TroupeClient.make({ baseUrl, token }).pipe(Effect.provide(FetchHttpClient.layer))))
  const call = <A, E>(f: (api: TroupeClient.TroupeClient) => Effect.Effect<A, E>) => api().then((c) => settle(f(c)))
  const signedIn = (session: Session) => {
    token = session.token
    client = undefined
    return session
  }
  return {
    token: () => token,
    signup: (payload) => call((c) => c.auth.signup({ payload })).then(signedIn),
    login: (payload) => call((c) => c.auth.login({ payload })).then(signedIn),
    call,
    events: (events = {}) => {
      if (token === undefined) throw new Error("sign up, log in or give a token before reading events")
      return Stream.toAsyncIterable(EventStream.follow({ baseUrl, token, lastEventId: events.lastEventId }))
    }
  }
}
