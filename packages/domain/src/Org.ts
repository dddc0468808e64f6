/**
 * Organizations (tenants), their members, invitations and API keys.
 */
import { Schema } from "effect"
import { ApiKeyId, InvitationId, OrgId, UserId } from "./Ids.js"
import { Avatar, Email } from "./User.js"

/** Roles in an org, from most to least powerful. */
export const Role = Schema.Literal("owner", "admin", "member", "guest")
/** Roles in an org, from most to least powerful. */
export type Role = typeof Role.Type

const rank: Record<Role, number> = { owner: 3, admin: 2, member: 1, guest: 0 }

/** True when `role` is at least as powerful as `atLeast`. */
export const roleAtLeast = (role: Role, atLeast: Role): boolean => rank[role] >= rank[atLeast]

/** A URL-safe org slug. */
export const Slug = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, {
    message: () => "expected a slug: 1–40 characters a-z, 0-9 and '-', not starting or ending with '-'"
  }),
  Schema.annotations({ description: "1–40 characters: a-z, 0-9 and '-', not starting or ending with '-'" })
)

/** An e-mail domain an org takes people from, in lower case (`example.com`). */
export const EmailDomain = Schema.String.pipe(
  Schema.pattern(/^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/, {
    message: () => "expected an e-mail domain in lower case, like example.com"
  }),
  Schema.annotations({ description: "an e-mail domain in lower case, like example.com" })
)

/** The domain of an e-mail address, in lower case: what follows its last `@`. */
export const emailDomainOf = (email: string): string => email.slice(email.lastIndexOf("@") + 1).trim().toLowerCase()

/**
 * The rule for an org's e-mail domains: with none listed, any address; with
 * some, only an address whose domain is exactly one of them (a subdomain is
 * another domain).
 */
export const emailDomainAllowed = (domains: ReadonlyArray<string>, email: string): boolean =>
  domains.length === 0 || domains.includes(emailDomainOf(email))

/** An organization as a member sees it. */
export class Org extends Schema.Class<Org>("Org")({
  id: OrgId,
  name: Schema.String,
  slug: Schema.String,
  role: Role,
  createdAt: Schema.Date,
  /**
   * The e-mail domains the org takes people from: people who sign in through
   * the identity provider with a verified address there join as members, and
   * only addresses there may be invited or added. Empty: any address, no one joins by domain.
   */
  allowedEmailDomains: Schema.Array(Schema.String)
}) {}

/** Create-org request. */
export class CreateOrgRequest extends Schema.Class<CreateOrgRequest>("CreateOrgRequest")({
  name: Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(100)),
  slug: Slug
}) {}

/** Rename an org (its slug stays) or set its e-mail domains; what is left out stays as it is. */
export class UpdateOrgRequest extends Schema.Class<UpdateOrgRequest>("UpdateOrgRequest")(
  Schema.Struct({
    name: Schema.optional(Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(100))),
    /** Up to 20 domains; an empty list lifts the restriction. */
    allowedEmailDomains: Schema.optional(Schema.Array(EmailDomain).pipe(Schema.maxItems(20)))
  }).pipe(
    Schema.filter((r) => r.name !== undefined || r.allowedEmailDomains !== undefined, {
      message: () => "give a name, allowedEmailDomains, or both"
    })
  )
) {}

/** Kinds of member: people now, teammates when they are hired. */
export const MemberKind = Schema.Literal("user", "teammate")
/** Kinds of member: people now, teammates when they are hired. */
export type MemberKind = typeof MemberKind.Type

/** A member of an org. */
export class Member extends Schema.Class<Member>("Member")({
  kind: MemberKind,
  id: Schema.UUID,
  name: Schema.String,
  handle: Schema.String,
  role: Role,
  joinedAt: Schema.Date,
  /** Where the person's avatar is read (`GET`, with the bearer token), or null when they have none. */
  avatar: Avatar
}) {}

/** Who of an org's people is online now (has an event stream open on any node). */
export class PresenceList extends Schema.Class<PresenceList>("PresenceList")({
  online: Schema.Array(UserId)
}) {}

/** Add a person to an org by e-mail. */
export class AddMemberRequest extends Schema.Class<AddMemberRequest>("AddMemberRequest")({
  email: Schema.String,
  /** Default `member`. */
  role: Schema.optional(Role)
}) {}

/** Change a member's role. */
export class ChangeRoleRequest extends Schema.Class<ChangeRoleRequest>("ChangeRoleRequest")({
  role: Role
}) {}

/** An API key's public record (the secret is shown only once, at creation). */
export class ApiKey extends Schema.Class<ApiKey>("ApiKey")({
  id: ApiKeyId,
  name: Schema.String,
  role: Role,
  prefix: Schema.String,
  createdBy: UserId,
  createdAt: Schema.Date
}) {}

/** Create an API key. Keys act as a bot user with the given role, capped at the creator's. */
export class CreateApiKeyRequest extends Schema.Class<CreateApiKeyRequest>("CreateApiKeyRequest")({
  name: Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(100)),
  /** Default `member`. */
  role: Schema.optional(Role)
}) {}

/** The answer to key creation: the record and the secret, shown once. */
export class CreatedApiKey extends Schema.Class<CreatedApiKey>("CreatedApiKey")({
  key: ApiKey,
  secret: Schema.String
}) {}

/** The roles an invitation may grant: owners are made by an owner changing a member's role. */
export const InvitedRole = Schema.Literal("admin", "member", "guest")
/** The roles an invitation may grant. */
export type InvitedRole = typeof InvitedRole.Type

/** Where an invitation stands. */
export const InvitationStatus = Schema.Literal("pending", "accepted", "revoked", "expired")
/** Where an invitation stands. */
export type InvitationStatus = typeof InvitationStatus.Type

/** An invitation to join an org, as its admins see it (the link's token is shown only once, at creation). */
export class Invitation extends Schema.Class<Invitation>("Invitation")({
  id: InvitationId,
  orgId: OrgId,
  email: Schema.String,
  role: InvitedRole,
  status: InvitationStatus,
  invitedBy: Schema.Struct({ id: UserId, name: Schema.String }),
  createdAt: Schema.Date,
  expiresAt: Schema.Date,
  acceptedBy: Schema.NullOr(UserId)
}) {}

/** Invite someone by e-mail, whether or not they have an account yet. */
export class CreateInvitationRequest extends Schema.Class<CreateInvitationRequest>("CreateInvitationRequest")({
  email: Email,
  /** Default `member`. */
  role: Schema.optional(InvitedRole)
}) {}

/** The answer to an invitation: its record, and the link (with its token) to pass on, shown once. */
export class CreatedInvitation extends Schema.Class<CreatedInvitation>("CreatedInvitation")({
  invitation: Invitation,
  /** The secret the link carries. */
  token: Schema.String,
  /** The link to send: the web app's page for accepting, the token after `#`. */
  url: Schema.String
}) {}

/** An invitation's token, from its link. */
export class InvitationTokenRequest extends Schema.Class<InvitationTokenRequest>("InvitationTokenRequest")({
  token: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))
}) {}

/** What a link's holder may know of an invitation before accepting it. */
export class InvitationPreview extends Schema.Class<InvitationPreview>("InvitationPreview")({
  orgName: Schema.String,
  email: Schema.String,
  role: InvitedRole,
  invitedBy: Schema.String,
  status: InvitationStatus,
  expiresAt: Schema.Date
}) {}
