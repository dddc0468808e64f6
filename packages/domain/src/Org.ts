/**
 * Organizations (tenants), their members and API keys.
 */
import { Schema } from "effect"
import { ApiKeyId, OrgId, UserId } from "./Ids.js"

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

/** An organization as a member sees it. */
export class Org extends Schema.Class<Org>("Org")({
  id: OrgId,
  name: Schema.String,
  slug: Schema.String,
  role: Role,
  createdAt: Schema.Date
}) {}

/** Create-org request. */
export class CreateOrgRequest extends Schema.Class<CreateOrgRequest>("CreateOrgRequest")({
  name: Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(100)),
  slug: Slug
}) {}

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
  joinedAt: Schema.Date
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
