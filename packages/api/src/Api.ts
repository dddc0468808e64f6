/**
 * The Troupe HTTP contract, declared once. The server implements it, the
 * client SDK is derived from it and the OpenAPI document is generated from it.
 */
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  Multipart,
  OpenApi
} from "@effect/platform"
import {
  Bridge,
  BridgeId,
  ChannelAccount,
  ChannelAccountId,
  ChannelTraffic,
  CreateBridgeRequest,
  CreateChannelRequest,
  GatewayAck,
  UpdateChannelRequest
} from "@troupe/domain/Channel"
import { ErasureReport, ExportParams } from "@troupe/domain/DataRights"
import {
  Conflict,
  Forbidden,
  InvalidInput,
  MalformedRequest,
  NotFound,
  PayloadTooLarge,
  RateLimited,
  Unauthorized,
  Unavailable
} from "@troupe/domain/Errors"
import { Delivered } from "@troupe/domain/Event"
import { FileHit, FileInfo, FileUsage } from "@troupe/domain/File"
import {
  ApiKeyId,
  FileId,
  InvitationId,
  MessageId,
  OrgId,
  PinId,
  RoomId,
  ScheduleId,
  TaskId,
  TeammateId,
  UserId
} from "@troupe/domain/Ids"
import {
  EditMessageRequest,
  Emoji,
  MarkReadRequest,
  Message,
  MessageEdit,
  MessagePage,
  PostMessageRequest,
  SearchHit
} from "@troupe/domain/Message"
import {
  AddMemberRequest,
  ApiKey,
  ChangeRoleRequest,
  CreateApiKeyRequest,
  CreatedApiKey,
  CreatedInvitation,
  CreateInvitationRequest,
  CreateOrgRequest,
  Invitation,
  InvitationPreview,
  InvitationTokenRequest,
  Member,
  Org,
  PresenceList,
  UpdateOrgRequest
} from "@troupe/domain/Org"
import { CreatePinRequest, Pin, PinVersion, UpdatePinRequest } from "@troupe/domain/Pin"
import {
  AddRoomMemberRequest,
  CreateRoomRequest,
  OpenDmRequest,
  Room,
  RoomInfo,
  RoomMember,
  RoomSettings,
  ThreadSummary,
  UpdateRoomRequest,
  UpdateRoomSettingsRequest
} from "@troupe/domain/Room"
import { CreateScheduleRequest, Schedule, UpdateScheduleRequest } from "@troupe/domain/Schedule"
import { CreateTaskRequest, Task } from "@troupe/domain/Task"
import {
  AddMemoryRequest,
  CatalogEntry,
  CoreBlock,
  CreateTeammateRequest,
  MemoryEntry,
  MemoryView,
  ModelPolicyView,
  PutCoreMemoryRequest,
  PutModelPolicyRequest,
  Run,
  Teammate,
  UpdateTeammateRequest,
  Usage
} from "@troupe/domain/Teammate"
import {
  ChangePasswordRequest,
  ConfirmPasswordResetRequest,
  LoginRequest,
  OidcCallbackParams,
  OidcExchangeRequest,
  OidcSignIn,
  PasswordResetAccepted,
  PasswordResetRequest,
  Session,
  SignupRequest,
  UpdateProfileRequest,
  User,
  UserProfile
} from "@troupe/domain/User"
import {
  CreateWebhookRequest,
  UpdateWebhookRequest,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointId,
  WebhookWithSecret
} from "@troupe/domain/Webhook"
import { Schema } from "effect"
import { Authentication } from "./Auth.js"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const mapRecord = (u: unknown, f: (value: unknown, key: string) => unknown): Record<string, unknown> =>
  isRecord(u) ? Object.fromEntries(Object.entries(u).map(([k, v]) => [k, f(v, k)])) : {}

/**
 * The OpenAPI document as the server behaves: requests that do not decode are
 * answered as `MalformedRequest` (see the server's error shaping), never as
 * the platform's `HttpApiDecodeError`, so that error is not documented.
 */
const documentMalformed = (spec: Record<string, unknown>): Record<string, unknown> => {
  const malformed = {
    description: "MalformedRequest: not JSON, or not the declared shape (the message names the field and the rule)",
    content: { "application/json": { schema: { $ref: "#/components/schemas/MalformedRequest" } } }
  }
  const paths = mapRecord(
    spec["paths"],
    (item) =>
      mapRecord(
        item,
        (operation) =>
          isRecord(operation) && isRecord(operation["responses"]) && operation["responses"]["400"] !== undefined
            ? { ...operation, responses: { ...operation["responses"], "400": malformed } }
            : operation
      )
  )
  const components = isRecord(spec["components"]) ? spec["components"] : {}
  const schemas = Object.fromEntries(
    Object.entries(isRecord(components["schemas"]) ? components["schemas"] : {})
      .filter(([name]) => name !== "HttpApiDecodeError" && name !== "Issue" && name !== "PropertyKey")
  )
  return { ...spec, paths, components: { ...components, schemas } }
}

/** Largest accepted request body, in bytes. */
export const MAX_BODY_BYTES = 256 * 1024

/**
 * Reads and checks every request body before it is decoded: bodies over
 * `MAX_BODY_BYTES` get 413 and malformed JSON gets 400, instead of a crash.
 */
export class RequestGuard extends HttpApiMiddleware.Tag<RequestGuard>()("@troupe/api/RequestGuard", {
  failure: Schema.Union(
    MalformedRequest.annotations(HttpApiSchema.annotations({ status: 400 })),
    PayloadTooLarge.annotations(HttpApiSchema.annotations({ status: 413 }))
  )
}) {}

const orgPath = Schema.Struct({ org: OrgId })
const roomPath = Schema.Struct({ room: RoomId })
const messagePath = Schema.Struct({ room: RoomId, message: MessageId })

/** Liveness and readiness probes. */
export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("live", "/health/live").addSuccess(Schema.Struct({ status: Schema.Literal("ok") })))
  .add(
    HttpApiEndpoint.get("ready", "/health/ready")
      .addSuccess(
        Schema.Struct({
          status: Schema.Literal("ready"),
          checks: Schema.Record({ key: Schema.String, value: Schema.String })
        })
      )
  )
{}

/** Sign-up, log-in, the current session, and a person's own account (profile, password, a forgotten password). */
export class AuthGroup extends HttpApiGroup.make("auth")
  .add(HttpApiEndpoint.post("signup", "/auth/signup").setPayload(SignupRequest).addSuccess(Session, { status: 201 }))
  .add(HttpApiEndpoint.post("login", "/auth/login").setPayload(LoginRequest).addSuccess(Session))
  .add(HttpApiEndpoint.get("me", "/auth/me").addSuccess(User).middleware(Authentication))
  .add(
    HttpApiEndpoint.patch("updateMe", "/auth/me").setPayload(UpdateProfileRequest).addSuccess(User)
      .middleware(Authentication)
      .annotate(OpenApi.Description, "Changes the caller's name or handle; every org they are in gets user.updated.")
  )
  .add(HttpApiEndpoint.post("logout", "/auth/logout").middleware(Authentication))
  .add(
    HttpApiEndpoint.post("changePassword", "/auth/password").setPayload(ChangePasswordRequest)
      .middleware(Authentication)
      .annotate(
        OpenApi.Description,
        "Sets a new password given the current one; the caller's other sessions end, this one stays."
      )
  )
  .add(
    HttpApiEndpoint.post("requestPasswordReset", "/auth/password-reset").setPayload(PasswordResetRequest)
      .addSuccess(PasswordResetAccepted, { status: 202 })
      .annotate(
        OpenApi.Description,
        "Sends a link to choose a new password when an account uses the address; the same answer either way."
      )
  )
  .add(
    HttpApiEndpoint.post("confirmPasswordReset", "/auth/password-reset/confirm")
      .setPayload(ConfirmPasswordResetRequest).addSuccess(Session)
      .annotate(
        OpenApi.Description,
        "Sets a new password with a reset link's token: every session ends, and a new one is answered."
      )
  )
  .add(
    HttpApiEndpoint.get("oidc", "/auth/oidc").addSuccess(OidcSignIn)
      .annotate(OpenApi.Description, "Whether people may sign in through an OpenID Connect provider, and its name.")
  )
  .add(
    HttpApiEndpoint.get("oidcStart", "/auth/oidc/start").addSuccess(HttpApiSchema.Empty(302))
      .annotate(
        OpenApi.Description,
        "Redirects (302, Location) to the identity provider with a fresh state, nonce and PKCE challenge. " +
          "404 when no provider is configured; 503 when the provider cannot be reached."
      )
  )
  .add(
    HttpApiEndpoint.get("oidcCallback", "/auth/oidc/callback").setUrlParams(OidcCallbackParams)
      .addSuccess(HttpApiSchema.Empty(302))
      .annotate(
        OpenApi.Description,
        "Where the provider sends the browser back. Redirects (302) to the web app: /oidc#code=<one-time code> " +
          "on success, /oidc#error=<code>&message=<text> when the sign-in was refused (nothing is stored then)."
      )
  )
  .add(
    HttpApiEndpoint.post("oidcExchange", "/auth/oidc/exchange").setPayload(OidcExchangeRequest).addSuccess(Session)
      .annotate(
        OpenApi.Description,
        "Exchanges the one-time code of a provider sign-in (once, within a minute) for a session."
      )
  )
  .prefix("/v1")
  .annotate(OpenApi.Description, "Accounts and sessions. Tokens are bearer tokens; log-out revokes at once.")
{}

/** Orgs, members and API keys. */
export class OrgsGroup extends HttpApiGroup.make("orgs")
  .add(HttpApiEndpoint.post("create", "/orgs").setPayload(CreateOrgRequest).addSuccess(Org, { status: 201 }))
  .add(HttpApiEndpoint.get("list", "/orgs").addSuccess(Schema.Array(Org)))
  .add(HttpApiEndpoint.get("get", "/orgs/:org").setPath(orgPath).addSuccess(Org))
  .add(HttpApiEndpoint.patch("update", "/orgs/:org").setPath(orgPath).setPayload(UpdateOrgRequest).addSuccess(Org))
  .add(
    HttpApiEndpoint.del("delete", "/orgs/:org").setPath(orgPath)
      .setUrlParams(Schema.Struct({ confirm: Schema.String.annotations({ description: "the org's slug" }) }))
      .annotate(
        OpenApi.Description,
        "Deletes the org and everything in it: rooms, messages, teammates, files, tasks, channels, API keys. " +
          "Owners only (people, not API keys), confirming with the org's slug (`?confirm=slug`, else 400). " +
          "Members get org.deleted; the org is gone at once (404) and its data is purged."
      )
  )
  .add(HttpApiEndpoint.get("members", "/orgs/:org/members").setPath(orgPath).addSuccess(Schema.Array(Member)))
  .add(HttpApiEndpoint.get("presence", "/orgs/:org/presence").setPath(orgPath).addSuccess(PresenceList))
  .add(
    HttpApiEndpoint.post("addMember", "/orgs/:org/members").setPath(orgPath).setPayload(AddMemberRequest)
      .addSuccess(Member, { status: 201 })
  )
  .add(
    HttpApiEndpoint.patch("changeRole", "/orgs/:org/members/:user")
      .setPath(Schema.Struct({ org: OrgId, user: UserId })).setPayload(ChangeRoleRequest).addSuccess(Member)
  )
  .add(
    HttpApiEndpoint.del("removeMember", "/orgs/:org/members/:user").setPath(Schema.Struct({ org: OrgId, user: UserId }))
  )
  .add(
    HttpApiEndpoint.post("createApiKey", "/orgs/:org/api-keys").setPath(orgPath).setPayload(CreateApiKeyRequest)
      .addSuccess(CreatedApiKey, { status: 201 })
  )
  .add(HttpApiEndpoint.get("apiKeys", "/orgs/:org/api-keys").setPath(orgPath).addSuccess(Schema.Array(ApiKey)))
  .add(
    HttpApiEndpoint.del("revokeApiKey", "/orgs/:org/api-keys/:key").setPath(
      Schema.Struct({ org: OrgId, key: ApiKeyId })
    )
  )
  .add(
    HttpApiEndpoint.get("search", "/orgs/:org/search").setPath(orgPath)
      .setUrlParams(Schema.Struct({
        q: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100))),
        /** Hits to skip: the next page starts at the previous offset plus its limit. */
        offset: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 10_000))),
        /** Only this room's messages. */
        room: Schema.optional(RoomId),
        /** Only messages by this person or teammate. */
        author: Schema.optional(Schema.UUID),
        /** Only messages posted at or after this instant (ISO 8601). */
        after: Schema.optional(Schema.Date),
        /** Only messages posted before this instant (ISO 8601). */
        before: Schema.optional(Schema.Date)
      }))
      .addSuccess(Schema.Array(SearchHit))
  )
  .middleware(Authentication)
  .prefix("/v1")
{}

/** Invitations into an org: admins invite by e-mail; the invited person previews the link and accepts. */
export class InvitationsGroup extends HttpApiGroup.make("invitations")
  .add(
    HttpApiEndpoint.post("create", "/orgs/:org/invitations").setPath(orgPath).setPayload(CreateInvitationRequest)
      .addSuccess(CreatedInvitation, { status: 201 }).middleware(Authentication)
  )
  .add(
    HttpApiEndpoint.get("list", "/orgs/:org/invitations").setPath(orgPath).addSuccess(Schema.Array(Invitation))
      .middleware(Authentication)
  )
  .add(
    HttpApiEndpoint.del("revoke", "/orgs/:org/invitations/:invitation")
      .setPath(Schema.Struct({ org: OrgId, invitation: InvitationId })).addSuccess(Invitation)
      .middleware(Authentication)
  )
  .add(
    HttpApiEndpoint.post("preview", "/invitations/preview").setPayload(InvitationTokenRequest)
      .addSuccess(InvitationPreview)
  )
  .add(
    HttpApiEndpoint.post("accept", "/invitations/accept").setPayload(InvitationTokenRequest).addSuccess(Org)
      .middleware(Authentication)
  )
  .prefix("/v1")
  .annotate(
    OpenApi.Description,
    "Invitations by e-mail, with an expiring link. Previewing a link needs no account; accepting needs the invited address."
  )
{}

/** Rooms in an org, with the log position the listing reflects. */
export class RoomList extends Schema.Class<RoomList>("RoomList")({
  rooms: Schema.Array(Room),
  /** Apply stream events with ids after this position. */
  position: Schema.String
}) {}

/** Rooms, direct rooms and room membership. */
export class RoomsGroup extends HttpApiGroup.make("rooms")
  .add(
    HttpApiEndpoint.post("create", "/orgs/:org/rooms").setPath(orgPath).setPayload(CreateRoomRequest)
      .addSuccess(RoomInfo, { status: 201 })
  )
  .add(HttpApiEndpoint.get("list", "/orgs/:org/rooms").setPath(orgPath).addSuccess(RoomList))
  .add(HttpApiEndpoint.post("openDm", "/orgs/:org/dms").setPath(orgPath).setPayload(OpenDmRequest).addSuccess(RoomInfo))
  .add(HttpApiEndpoint.get("get", "/rooms/:room").setPath(roomPath).addSuccess(Room))
  .add(
    HttpApiEndpoint.patch("update", "/rooms/:room").setPath(roomPath).setPayload(UpdateRoomRequest).addSuccess(RoomInfo)
  )
  .add(HttpApiEndpoint.post("archive", "/rooms/:room/archive").setPath(roomPath).addSuccess(RoomInfo))
  .add(HttpApiEndpoint.post("unarchive", "/rooms/:room/unarchive").setPath(roomPath).addSuccess(RoomInfo))
  .add(HttpApiEndpoint.del("delete", "/rooms/:room").setPath(roomPath))
  .add(
    HttpApiEndpoint.put("settings", "/rooms/:room/settings").setPath(roomPath).setPayload(UpdateRoomSettingsRequest)
      .addSuccess(RoomSettings)
      .annotate(
        OpenApi.Description,
        "The caller's own settings for a room they are in: muted, and notify (all, mentions or none; by default all " +
          "in direct rooms, mentions elsewhere). What is left out stays. Their other apps get room.settings."
      )
  )
  .add(HttpApiEndpoint.post("join", "/rooms/:room/join").setPath(roomPath))
  .add(HttpApiEndpoint.post("leave", "/rooms/:room/leave").setPath(roomPath))
  .add(HttpApiEndpoint.get("members", "/rooms/:room/members").setPath(roomPath).addSuccess(Schema.Array(RoomMember)))
  .add(HttpApiEndpoint.post("addMember", "/rooms/:room/members").setPath(roomPath).setPayload(AddRoomMemberRequest))
  .add(
    HttpApiEndpoint.del("removeMember", "/rooms/:room/members/:member")
      .setPath(Schema.Struct({ room: RoomId, member: Schema.UUID }))
      .annotate(OpenApi.Description, "Removes a person or a teammate (by its id) from the room.")
  )
  .add(HttpApiEndpoint.get("threads", "/rooms/:room/threads").setPath(roomPath).addSuccess(Schema.Array(ThreadSummary)))
  .add(
    HttpApiEndpoint.post("typing", "/rooms/:room/typing").setPath(roomPath)
      .setPayload(Schema.Struct({ threadId: Schema.optional(MessageId) }))
  )
  .middleware(Authentication)
  .prefix("/v1")
{}

const Cursor = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())

/** Messages, threads, edits, reactions and read markers. */
export class MessagesGroup extends HttpApiGroup.make("messages")
  .add(
    HttpApiEndpoint.post("post", "/rooms/:room/messages").setPath(roomPath).setPayload(PostMessageRequest)
      .addSuccess(Message, { status: 201 })
  )
  .add(
    HttpApiEndpoint.get("list", "/rooms/:room/messages").setPath(roomPath)
      .setUrlParams(Schema.Struct({
        before: Schema.optional(Cursor),
        after: Schema.optional(Cursor),
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 200))),
        threadId: Schema.optional(MessageId)
      }))
      .addSuccess(MessagePage)
  )
  .add(HttpApiEndpoint.get("get", "/rooms/:room/messages/:message").setPath(messagePath).addSuccess(Message))
  .add(
    HttpApiEndpoint.patch("edit", "/rooms/:room/messages/:message").setPath(messagePath).setPayload(EditMessageRequest)
      .addSuccess(Message)
  )
  .add(HttpApiEndpoint.del("delete", "/rooms/:room/messages/:message").setPath(messagePath).addSuccess(Message))
  .add(
    HttpApiEndpoint.get("edits", "/rooms/:room/messages/:message/edits").setPath(messagePath)
      .addSuccess(Schema.Array(MessageEdit))
  )
  .add(
    HttpApiEndpoint.put("react", "/rooms/:room/messages/:message/reactions/:emoji")
      .setPath(Schema.Struct({ room: RoomId, message: MessageId, emoji: Emoji })).addSuccess(Message)
  )
  .add(
    HttpApiEndpoint.del("unreact", "/rooms/:room/messages/:message/reactions/:emoji")
      .setPath(Schema.Struct({ room: RoomId, message: MessageId, emoji: Emoji })).addSuccess(Message)
  )
  .add(HttpApiEndpoint.post("markRead", "/rooms/:room/read").setPath(roomPath).setPayload(MarkReadRequest))
  .middleware(Authentication)
  .prefix("/v1")
{}

const filePath = Schema.Struct({ room: RoomId, file: FileId })

/** The upload form: one part named `file`. */
const UploadForm = HttpApiSchema.MultipartStream(Schema.Struct({ file: Multipart.SingleFileSchema }))

/** Files: a room's library, uploads (attached to a message when it is posted), downloads. */
export class FilesGroup extends HttpApiGroup.make("files")
  .add(
    HttpApiEndpoint.post("upload", "/rooms/:room/files").setPath(roomPath).setPayload(UploadForm)
      .addSuccess(FileInfo, { status: 201 })
      .annotate(
        OpenApi.Description,
        "Uploads a file (multipart/form-data, one part named file) into the room's library. " +
          "Attach it by naming its id in a message's attachments. Over the size limit or the org's quota: 413."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/rooms/:room/files").setPath(roomPath)
      .setUrlParams(Schema.Struct({
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 200))),
        /** Only files uploaded before this one (the last id of the previous page). */
        before: Schema.optional(FileId)
      }))
      .addSuccess(Schema.Array(FileInfo))
      .annotate(OpenApi.Description, "The room's files, newest first.")
  )
  .add(HttpApiEndpoint.get("get", "/rooms/:room/files/:file").setPath(filePath).addSuccess(FileInfo))
  .add(
    HttpApiEndpoint.get("download", "/rooms/:room/files/:file/content").setPath(filePath)
      .addSuccess(HttpApiSchema.Uint8Array({ contentType: "application/octet-stream" }))
      .annotate(
        OpenApi.Description,
        "The file's bytes, as the type they were recognised as, with its SHA-256 as the ETag (If-None-Match gives 304)."
      )
  )
  .add(
    HttpApiEndpoint.del("delete", "/rooms/:room/files/:file").setPath(filePath).addSuccess(FileInfo)
      .annotate(OpenApi.Description, "The uploader, or an admin, deletes a file; messages stop listing it.")
  )
  .add(HttpApiEndpoint.get("usage", "/orgs/:org/files/usage").setPath(orgPath).addSuccess(FileUsage))
  .add(
    HttpApiEndpoint.get("search", "/orgs/:org/files/search").setPath(orgPath)
      .setUrlParams(Schema.Struct({
        q: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100))),
        offset: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 10_000)))
      }))
      .addSuccess(Schema.Array(FileHit))
      .annotate(
        OpenApi.Description,
        "Files of the rooms the caller can read whose name or text (plain text, Markdown, PDF, DOCX) matches, best first."
      )
  )
  .middleware(Authentication)
  .prefix("/v1")
{}

/** Avatars: a person's own picture, and reading anyone's they share an org with. */
export class AvatarsGroup extends HttpApiGroup.make("avatars")
  .add(
    HttpApiEndpoint.put("set", "/auth/me/avatar").setPayload(UploadForm).addSuccess(UserProfile)
      .annotate(
        OpenApi.Description,
        "Sets the caller's avatar (people, not API keys) from an upload (multipart/form-data, one part named file): " +
          "a PNG, JPEG, GIF or WebP image by its bytes (else 422), at most 1 MiB (else 413). Their orgs get user.updated."
      )
  )
  .add(
    HttpApiEndpoint.del("remove", "/auth/me/avatar")
      .annotate(OpenApi.Description, "Removes the caller's avatar; their orgs get user.updated.")
  )
  .add(
    HttpApiEndpoint.get("get", "/users/:user/avatar").setPath(Schema.Struct({ user: UserId }))
      .addSuccess(HttpApiSchema.Uint8Array({ contentType: "image/png" }))
      .annotate(
        OpenApi.Description,
        "A person's avatar image (its type as recognised), for anyone who shares an org with them; 404 when they " +
          "have none or share no org with the caller. Its SHA-256 is the ETag (If-None-Match gives 304)."
      )
  )
  .middleware(Authentication)
  .prefix("/v1")
{}

const pinPath = Schema.Struct({ room: RoomId, pin: PinId })

/** The room pinboard: notes and pinned messages, with every version of a note. */
export class PinsGroup extends HttpApiGroup.make("pins")
  .add(
    HttpApiEndpoint.post("create", "/rooms/:room/pins").setPath(roomPath).setPayload(CreatePinRequest)
      .addSuccess(Pin, { status: 201 })
      .annotate(
        OpenApi.Description,
        "Pins a note (`text`) or a message of the room (`messageId`). A message already pinned in the room is 409."
      )
  )
  .add(HttpApiEndpoint.get("list", "/rooms/:room/pins").setPath(roomPath).addSuccess(Schema.Array(Pin)))
  .add(
    HttpApiEndpoint.patch("edit", "/rooms/:room/pins/:pin").setPath(pinPath).setPayload(UpdatePinRequest)
      .addSuccess(Pin)
      .annotate(
        OpenApi.Description,
        "Gives a note new text as its next version; with `version`, 409 when the note has moved past it."
      )
  )
  .add(
    HttpApiEndpoint.get("versions", "/rooms/:room/pins/:pin/versions").setPath(pinPath)
      .addSuccess(Schema.Array(PinVersion))
  )
  .add(HttpApiEndpoint.del("delete", "/rooms/:room/pins/:pin").setPath(pinPath))
  .middleware(Authentication)
  .prefix("/v1")
  .annotate(OpenApi.Description, "A room's pinboard. Changes arrive as pin.created, pin.updated and pin.deleted.")
{}

const taskPath = Schema.Struct({ room: RoomId, task: TaskId })

/** Background tasks: goals given to a teammate of a room, worked on in steps, with progress and a result. */
export class TasksGroup extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.post("create", "/rooms/:room/tasks").setPath(roomPath).setPayload(CreateTaskRequest)
      .addSuccess(Task, { status: 201 })
      .annotate(
        OpenApi.Description,
        "Gives a teammate of the room a goal. It is worked on in the background (a plan, then its steps); " +
          "progress arrives as task.updated, and the result is posted in the room, or in threadId's thread, once."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/rooms/:room/tasks").setPath(roomPath)
      .setUrlParams(
        Schema.Struct({ limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100))) })
      )
      .addSuccess(Schema.Array(Task))
  )
  .add(HttpApiEndpoint.get("get", "/rooms/:room/tasks/:task").setPath(taskPath).addSuccess(Task))
  .add(
    HttpApiEndpoint.post("cancel", "/rooms/:room/tasks/:task/cancel").setPath(taskPath).addSuccess(Task)
      .annotate(
        OpenApi.Description,
        "Asks the task to stop: it ends as cancelled before its next step. A finished task answers 409."
      )
  )
  .middleware(Authentication)
  .prefix("/v1")
{}

const schedulePath = Schema.Struct({ room: RoomId, schedule: ScheduleId })

/** Schedules: a goal given to a teammate of a room on every tick of a cron expression in a time zone. */
export class SchedulesGroup extends HttpApiGroup.make("schedules")
  .add(
    HttpApiEndpoint.post("create", "/rooms/:room/schedules").setPath(roomPath).setPayload(CreateScheduleRequest)
      .addSuccess(Schedule, { status: 201 })
      .annotate(
        OpenApi.Description,
        "Each tick of `cron` (5 or 6 fields, read in `timeZone`) gives the teammate `goal` as a task. " +
          "An invalid expression or time zone is 422; `upcoming` shows the next run times."
      )
  )
  .add(HttpApiEndpoint.get("list", "/rooms/:room/schedules").setPath(roomPath).addSuccess(Schema.Array(Schedule)))
  .add(HttpApiEndpoint.get("get", "/rooms/:room/schedules/:schedule").setPath(schedulePath).addSuccess(Schedule))
  .add(
    HttpApiEndpoint.patch("update", "/rooms/:room/schedules/:schedule").setPath(schedulePath)
      .setPayload(UpdateScheduleRequest).addSuccess(Schedule)
      .annotate(OpenApi.Description, "Pauses or resumes a schedule, or changes its goal, expression or time zone.")
  )
  .add(HttpApiEndpoint.del("delete", "/rooms/:room/schedules/:schedule").setPath(schedulePath))
  .middleware(Authentication)
  .prefix("/v1")
{}

const teammatePath = Schema.Struct({ org: OrgId, teammate: TeammateId })

/** Teammates: the catalog, hiring, rooms, runs, memory and usage. */
export class TeammatesGroup extends HttpApiGroup.make("teammates")
  .add(HttpApiEndpoint.get("catalog", "/catalog").addSuccess(Schema.Array(CatalogEntry)))
  .add(
    HttpApiEndpoint.post("hire", "/orgs/:org/teammates").setPath(orgPath).setPayload(CreateTeammateRequest)
      .addSuccess(Teammate, { status: 201 })
  )
  .add(HttpApiEndpoint.get("list", "/orgs/:org/teammates").setPath(orgPath).addSuccess(Schema.Array(Teammate)))
  .add(HttpApiEndpoint.get("get", "/orgs/:org/teammates/:teammate").setPath(teammatePath).addSuccess(Teammate))
  .add(
    HttpApiEndpoint.patch("update", "/orgs/:org/teammates/:teammate").setPath(teammatePath).setPayload(
      UpdateTeammateRequest
    )
      .addSuccess(Teammate)
  )
  .add(HttpApiEndpoint.del("dismiss", "/orgs/:org/teammates/:teammate").setPath(teammatePath).addSuccess(Teammate))
  .add(HttpApiEndpoint.post("openDm", "/orgs/:org/teammates/:teammate/dm").setPath(teammatePath).addSuccess(RoomInfo))
  .add(
    HttpApiEndpoint.post("addToRoom", "/rooms/:room/teammates").setPath(roomPath)
      .setPayload(Schema.Struct({ teammateId: TeammateId }))
  )
  .add(
    HttpApiEndpoint.get("runs", "/orgs/:org/teammates/:teammate/runs").setPath(teammatePath)
      .setUrlParams(
        Schema.Struct({ limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100))) })
      )
      .addSuccess(Schema.Array(Run))
  )
  .add(
    HttpApiEndpoint.post("interrupt", "/orgs/:org/teammates/:teammate/interrupt").setPath(teammatePath)
      .addSuccess(Schema.Struct({ interrupted: Schema.Boolean }))
  )
  .add(
    HttpApiEndpoint.get("memory", "/orgs/:org/teammates/:teammate/memory").setPath(teammatePath).addSuccess(MemoryView)
  )
  .add(
    HttpApiEndpoint.post("remember", "/orgs/:org/teammates/:teammate/memory").setPath(teammatePath)
      .setPayload(AddMemoryRequest).addSuccess(MemoryEntry, { status: 201 })
  )
  .add(
    HttpApiEndpoint.put("putCore", "/orgs/:org/teammates/:teammate/memory/core/:block")
      .setPath(Schema.Struct({ org: OrgId, teammate: TeammateId, block: CoreBlock })).setPayload(PutCoreMemoryRequest)
  )
  .add(
    HttpApiEndpoint.del("forget", "/orgs/:org/teammates/:teammate/memory/:memory")
      .setPath(Schema.Struct({ org: OrgId, teammate: TeammateId, memory: Schema.UUID }))
  )
  .add(HttpApiEndpoint.get("usage", "/orgs/:org/usage").setPath(orgPath).addSuccess(Usage))
  .add(
    HttpApiEndpoint.put("budget", "/orgs/:org/budget").setPath(orgPath)
      .setPayload(Schema.Struct({ monthlyTokens: Schema.NullOr(Schema.Int.pipe(Schema.positive())) }))
  )
  .add(HttpApiEndpoint.get("modelPolicy", "/orgs/:org/model-policy").setPath(orgPath).addSuccess(ModelPolicyView))
  .add(
    HttpApiEndpoint.put("setModelPolicy", "/orgs/:org/model-policy").setPath(orgPath)
      .setPayload(PutModelPolicyRequest).addSuccess(ModelPolicyView)
  )
  .middleware(Authentication)
  .prefix("/v1")
{}

/** Data rights: exporting an org's or a person's data, and erasing a person's data from an org. Admins only. */
export class DataRightsGroup extends HttpApiGroup.make("dataRights")
  .add(
    HttpApiEndpoint.get("export", "/orgs/:org/export").setPath(orgPath).setUrlParams(ExportParams)
      .addSuccess(HttpApiSchema.Text({ contentType: "application/x-ndjson" }))
      .annotate(
        OpenApi.Description,
        "Everything the org holds as JSON lines (application/x-ndjson), streamed: one record per line with a " +
          "`type` (export, org, member, room, membership, message, reaction, read_state, file, pin, teammate, " +
          "memory, run, task, schedule, api_key, invitation, ...), ending with an `end` line that counts them. " +
          "With `user`, only what that person authored and what is about them. A stream without its `end` " +
          "line was cut short."
      )
  )
  .add(
    HttpApiEndpoint.post("erase", "/orgs/:org/members/:user/erase")
      .setPath(Schema.Struct({ org: OrgId, user: UserId })).addSuccess(ErasureReport)
      .annotate(
        OpenApi.Description,
        "Erases a person's data from the org in one transaction: removes them from the org and its rooms, " +
          "turns their messages into tombstones, removes their reactions, read markers, files, pins, " +
          "schedules and the memories teammates took from their messages; keeps run totals (usage) without " +
          "their steps. Their account stays (it may belong to other orgs). Admins; only owners erase owners; " +
          "not oneself."
      )
  )
  .middleware(Authentication)
  .prefix("/v1")
{}

const channelPath = Schema.Struct({ org: OrgId, account: ChannelAccountId })

/** Channel accounts of the messaging gateway (Slack, Telegram) and their bridges to rooms: admins only. */
export class ChannelsGroup extends HttpApiGroup.make("channels")
  .add(
    HttpApiEndpoint.post("create", "/orgs/:org/channels").setPath(orgPath).setPayload(CreateChannelRequest)
      .addSuccess(ChannelAccount, { status: 201 })
      .annotate(
        OpenApi.Description,
        "Connects a Slack workspace (bot token, signing secret) or a Telegram bot (bot token, webhook secret). " +
          "Credentials are encrypted with CHANNEL_KEY and never returned (503 when it is not configured)."
      )
  )
  .add(HttpApiEndpoint.get("list", "/orgs/:org/channels").setPath(orgPath).addSuccess(Schema.Array(ChannelAccount)))
  .add(HttpApiEndpoint.get("get", "/orgs/:org/channels/:account").setPath(channelPath).addSuccess(ChannelAccount))
  .add(
    HttpApiEndpoint.patch("update", "/orgs/:org/channels/:account").setPath(channelPath)
      .setPayload(UpdateChannelRequest).addSuccess(ChannelAccount)
      .annotate(OpenApi.Description, "Renames, enables or disables an account, or rotates its secrets.")
  )
  .add(HttpApiEndpoint.del("delete", "/orgs/:org/channels/:account").setPath(channelPath))
  .add(
    HttpApiEndpoint.post("createBridge", "/orgs/:org/channels/:account/bridges").setPath(channelPath)
      .setPayload(CreateBridgeRequest).addSuccess(Bridge, { status: 201 })
      .annotate(
        OpenApi.Description,
        "Joins a platform channel (a Slack channel id, a Telegram chat id) to a room of the org: messages " +
          "there appear in the room, and the room's messages go out there. A channel bridged already is 409."
      )
  )
  .add(
    HttpApiEndpoint.get("bridges", "/orgs/:org/channels/:account/bridges").setPath(channelPath)
      .addSuccess(Schema.Array(Bridge))
  )
  .add(
    HttpApiEndpoint.del("deleteBridge", "/orgs/:org/channels/:account/bridges/:bridge").setPath(
      Schema.Struct({ org: OrgId, account: ChannelAccountId, bridge: BridgeId })
    )
  )
  .add(
    HttpApiEndpoint.get("traffic", "/orgs/:org/channels/:account/traffic").setPath(channelPath)
      .setUrlParams(
        Schema.Struct({ limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 200))) })
      )
      .addSuccess(Schema.Array(ChannelTraffic))
      .annotate(
        OpenApi.Description,
        "The operator's tail: the account's latest messages in (received) and out (pending, sent or failed, " +
          "with attempts and the last error), newest first."
      )
  )
  .middleware(Authentication)
  .prefix("/v1")
{}

const webhookPath = Schema.Struct({ org: OrgId, webhook: WebhookEndpointId })

/** Outbound webhooks: URLs an org's admins subscribe to event types. Admins only. */
export class WebhooksGroup extends HttpApiGroup.make("webhooks")
  .add(
    HttpApiEndpoint.post("create", "/orgs/:org/webhooks").setPath(orgPath).setPayload(CreateWebhookRequest)
      .addSuccess(WebhookWithSecret, { status: 201 })
      .annotate(
        OpenApi.Description,
        "Subscribes a URL to event types. The answer carries the endpoint's signing secret, this once " +
          "(encrypted with CHANNEL_KEY; 503 when it is not configured). A URL that is not http(s), carries " +
          "credentials or names a private or loopback address (unless WEBHOOK_ALLOW_PRIVATE) is 422."
      )
  )
  .add(HttpApiEndpoint.get("list", "/orgs/:org/webhooks").setPath(orgPath).addSuccess(Schema.Array(WebhookEndpoint)))
  .add(HttpApiEndpoint.get("get", "/orgs/:org/webhooks/:webhook").setPath(webhookPath).addSuccess(WebhookEndpoint))
  .add(
    HttpApiEndpoint.patch("update", "/orgs/:org/webhooks/:webhook").setPath(webhookPath)
      .setPayload(UpdateWebhookRequest).addSuccess(WebhookEndpoint)
      .annotate(
        OpenApi.Description,
        "Changes the URL or the event types, or enables or disables the endpoint. A URL is checked as on create (422)."
      )
  )
  .add(
    HttpApiEndpoint.post("rotateSecret", "/orgs/:org/webhooks/:webhook/rotate-secret").setPath(webhookPath)
      .addSuccess(WebhookWithSecret)
      .annotate(
        OpenApi.Description,
        "A new signing secret, shown this once. For a day, deliveries carry a signature with the old one too."
      )
  )
  .add(HttpApiEndpoint.del("delete", "/orgs/:org/webhooks/:webhook").setPath(webhookPath))
  .add(
    HttpApiEndpoint.get("deliveries", "/orgs/:org/webhooks/:webhook/deliveries").setPath(webhookPath)
      .setUrlParams(
        Schema.Struct({ limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 200))) })
      )
      .addSuccess(Schema.Array(WebhookDelivery))
      .annotate(
        OpenApi.Description,
        "The endpoint's latest deliveries, newest first: pending (with the next attempt's time), sent or failed, " +
          "with attempts, the last HTTP status and the last error."
      )
  )
  .middleware(Authentication)
  .prefix("/v1")
{}

/**
 * Webhooks the platforms call. No bearer token: each delivery is checked
 * against its account's secret over the raw body.
 */
export class GatewayGroup extends HttpApiGroup.make("gateway")
  .add(
    HttpApiEndpoint.post("slackEvents", "/gateway/slack/:account/events")
      .setPath(Schema.Struct({ account: ChannelAccountId }))
      .addSuccess(GatewayAck)
      .annotate(
        OpenApi.Description,
        "Slack Events API deliveries, signed with the app's signing secret (X-Slack-Signature, " +
          "X-Slack-Request-Timestamp, 5-minute window). url_verification is answered with its challenge; " +
          "messages in bridged channels are stored in their room once, however often Slack retries."
      )
  )
  .add(
    HttpApiEndpoint.post("webhookMessages", "/gateway/webhook/:account")
      .setPath(Schema.Struct({ account: ChannelAccountId }))
      .addSuccess(GatewayAck)
      .annotate(
        OpenApi.Description,
        "Messages from any system, signed with the Standard Webhooks scheme (webhook-id, webhook-timestamp, " +
          "webhook-signature; 5-minute window) under a webhook account's signing secret. The body is " +
          "{channel, user: {id, name?}, text, messageId?, replyTo?}; a message in a bridged channel is stored " +
          "in its room once per webhook-id."
      )
  )
  .add(
    HttpApiEndpoint.post("telegramUpdates", "/gateway/telegram/:account")
      .setPath(Schema.Struct({ account: ChannelAccountId }))
      .addSuccess(GatewayAck)
      .annotate(
        OpenApi.Description,
        "Telegram webhook updates, carrying the account's webhook secret in X-Telegram-Bot-Api-Secret-Token " +
          "(compared in constant time). Messages in bridged chats are stored in their room once per update_id."
      )
  )
  .prefix("/v1")
{}

/** A batch of events from the long-poll endpoint. */
export class EventBatch extends Schema.Class<EventBatch>("EventBatch")({
  events: Schema.Array(Delivered),
  /** Pass as `after` on the next poll. */
  cursor: Schema.String
}) {}

/** The realtime feed: Server-Sent Events and long-poll. */
export class EventsGroup extends HttpApiGroup.make("events")
  .add(
    HttpApiEndpoint.get("stream", "/events")
      .setHeaders(Schema.Struct({ "last-event-id": Schema.optional(Schema.String) }))
      .setUrlParams(Schema.Struct({ after: Schema.optional(Schema.String) }))
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
      .annotate(OpenApi.Description, "Server-Sent Events. Resume with the Last-Event-ID header (or ?after=).")
  )
  .add(
    HttpApiEndpoint.get("poll", "/events/poll")
      .setUrlParams(Schema.Struct({
        after: Schema.optional(Schema.String),
        timeoutMs: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 60_000))),
        /** The most events one poll returns (1–1,000, default 500); a backlog comes in pages. */
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000)))
      }))
      .addSuccess(EventBatch)
  )
  .middleware(Authentication)
  .prefix("/v1")
{}

/** The whole contract. */
export class TroupeApi extends HttpApi.make("troupe")
  .add(HealthGroup)
  .add(AuthGroup)
  .add(OrgsGroup)
  .add(InvitationsGroup)
  .add(RoomsGroup)
  .add(MessagesGroup)
  .add(FilesGroup)
  .add(AvatarsGroup)
  .add(PinsGroup)
  .add(TeammatesGroup)
  .add(TasksGroup)
  .add(SchedulesGroup)
  .add(EventsGroup)
  .add(ChannelsGroup)
  .add(WebhooksGroup)
  .add(GatewayGroup)
  .add(DataRightsGroup)
  .addError(MalformedRequest, { status: 400 })
  .addError(InvalidInput, { status: 422 })
  .addError(Unauthorized, { status: 401 })
  .addError(Forbidden, { status: 403 })
  .addError(NotFound, { status: 404 })
  .addError(Conflict, { status: 409 })
  .addError(PayloadTooLarge, { status: 413 })
  .addError(RateLimited, { status: 429 })
  .addError(Unavailable, { status: 503 })
  .middleware(RequestGuard)
  .annotate(OpenApi.Title, "Troupe")
  .annotate(OpenApi.Transform, documentMalformed)
  .annotate(
    OpenApi.Description,
    "People and AI teammates working together: rooms, messages and a resumable event stream."
  )
{}
