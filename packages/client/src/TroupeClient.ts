/**
 * The typed client SDK, derived from the contract: every endpoint is a
 * method with typed inputs, outputs and errors.
 */
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { Effect } from "effect"

/** Options for a client. */
export interface ClientOptions {
  readonly baseUrl: string
  /** A session token or API key. */
  readonly token?: string | undefined
}

/** Builds a client for a server at `baseUrl`, optionally authenticated. */
export const make = (options: ClientOptions) =>
  HttpApiClient.make(TroupeApi, {
    baseUrl: options.baseUrl,
    transformClient: options.token === undefined
      ? undefined
      : HttpClient.mapRequest(HttpClientRequest.bearerToken(options.token))
  })

/** The client's type. */
export type TroupeClient = Effect.Effect.Success<ReturnType<typeof make>>
