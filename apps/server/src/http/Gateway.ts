/**
 * The gateway's webhooks. The request guard leaves their bodies alone: the
 * handler reads the raw bytes (under the body limit), which the signature
 * covers, and the gateway parses them only once the signature holds.
 */
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { MAX_BODY_BYTES } from "@troupe/api/Api"
import { TroupeApi } from "@troupe/api/Api"
import { MalformedRequest, PayloadTooLarge } from "@troupe/domain/Errors"
import { Inbound } from "@troupe/gateway/Inbound"
import { Effect, Option } from "effect"

/** The request's body as bytes, at most `MAX_BODY_BYTES` (413 above). */
const rawBody = (request: HttpServerRequest.HttpServerRequest) =>
  request.arrayBuffer.pipe(
    HttpServerRequest.withMaxBodySize(Option.some(MAX_BODY_BYTES)),
    Effect.map((buffer) => new Uint8Array(buffer)),
    Effect.mapError((e) =>
      e.cause instanceof Error && e.cause.message === "maxBytes exceeded"
        ? new PayloadTooLarge({
          message: `the request body is larger than the ${MAX_BODY_BYTES}-byte limit`,
          limitBytes: MAX_BODY_BYTES
        })
        : new MalformedRequest({ message: "the request body could not be read" })
    )
  )

/** The gateway group. */
export const GatewayLive = HttpApiBuilder.group(TroupeApi, "gateway", (handlers) =>
  Effect.gen(function*() {
    const inbound = yield* Inbound
    return handlers
      .handle("slackEvents", ({ path, request }) =>
        Effect.flatMap(rawBody(request), (body) =>
          inbound.slack(path.account, {
            timestamp: request.headers["x-slack-request-timestamp"],
            signature: request.headers["x-slack-signature"]
          }, body)))
      .handle("telegramUpdates", ({ path, request }) =>
        Effect.flatMap(
          rawBody(request),
          (body) =>
            inbound.telegram(path.account, request.headers["x-telegram-bot-api-secret-token"], body)
        ))
  }))
