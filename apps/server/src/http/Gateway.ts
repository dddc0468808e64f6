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

const tooLarge = () =>
  new PayloadTooLarge({
    message: `the request body is larger than the ${MAX_BODY_BYTES}-byte limit`,
    limitBytes: MAX_BODY_BYTES
  })

/**
 * The request's body as bytes, at most `MAX_BODY_BYTES` (413 above). A
 * declared length over the limit is refused before any byte is read, as the
 * request guard does, so the client reads the 413 on an intact connection.
 */
const rawBody = (request: HttpServerRequest.HttpServerRequest) =>
  Number(request.headers["content-length"] ?? "0") > MAX_BODY_BYTES
    ? Effect.fail(tooLarge())
    : request.arrayBuffer.pipe(
      HttpServerRequest.withMaxBodySize(Option.some(MAX_BODY_BYTES)),
      Effect.map((buffer) => new Uint8Array(buffer)),
      Effect.mapError((e) =>
        e.cause instanceof Error && e.cause.message === "maxBytes exceeded"
          ? tooLarge()
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
      .handle("webhookMessages", ({ path, request }) =>
        Effect.flatMap(rawBody(request), (body) =>
          inbound.webhook(path.account, {
            id: request.headers["webhook-id"],
            timestamp: request.headers["webhook-timestamp"],
            signature: request.headers["webhook-signature"]
          }, body)))
      .handle("telegramUpdates", ({ path, request }) =>
        Effect.flatMap(
          rawBody(request),
          (body) =>
            inbound.telegram(path.account, request.headers["x-telegram-bot-api-secret-token"], body)
        ))
  }))
