/**
 * Reading the end of a provider sign-in from the address the server sent the
 * browser to.
 */
import { describe, expect, it } from "@effect/vitest"
import { oidcReturn } from "../src/oidc.js"

describe("the end of a provider sign-in", () => {
  it("is only on the /oidc page", () => {
    expect(oidcReturn("/", "#code=trp_o_abc")).toBeNull()
    expect(oidcReturn("/reset", "#code=trp_o_abc")).toBeNull()
  })

  it("carries a one-time code", () => {
    expect(oidcReturn("/oidc", "#code=trp_o_a-b_c")).toEqual({ kind: "code", code: "trp_o_a-b_c" })
  })

  it("or a refusal with the server's message, or one of its own", () => {
    expect(oidcReturn("/oidc", "#error=email_unverified&message=the+address+is+not+verified")).toEqual({
      kind: "error",
      code: "email_unverified",
      message: "Signing in through the identity provider failed: the address is not verified."
    })
    expect(oidcReturn("/oidc", "#error=access_denied")).toMatchObject({ message: expect.stringContaining("cancelled") })
    expect(oidcReturn("/oidc", "")).toMatchObject({ kind: "error", code: "unknown" })
  })
})
