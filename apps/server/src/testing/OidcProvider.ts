/**
 * A real OpenID Connect provider for tests (`oidc-provider`), on a loopback
 * port: its own RS256 key, one confidential client, and interactions that
 * finish themselves (log-in, then consent) as the account the test chose, so
 * that neither a person nor a login page is needed. For tests only: it keeps
 * everything in memory.
 */
import { Effect, type Scope } from "effect"
import { exportJWK, generateKeyPair } from "jose"
import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import Provider from "oidc-provider"

/** A person at the provider. */
export interface ProviderPerson {
  readonly email: string
  readonly name: string
  readonly verified: boolean
}

/** The running provider. */
export interface TestProvider {
  /** Its issuer URL (`OIDC_ISSUER`). */
  readonly url: string
  readonly clientId: string
  readonly clientSecret: string
  /** Adds a person; answers their account id. */
  readonly add: (person: ProviderPerson) => string
  /**
   * Who finishes the next interactions: an account id, or `deny` to refuse
   * with `access_denied`. A `?as=` on the interaction URL overrides it.
   */
  signInAs: string
}

/** An HTTP server on a loopback port for `handle`, closed with the scope; answers its base URL. */
export const listen = (
  handle: (req: IncomingMessage, res: ServerResponse) => void
): Effect.Effect<string, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.promise(() =>
        new Promise<Server>((resolve) => {
          const s = createServer(handle)
          s.listen(0, "127.0.0.1", () => resolve(s))
        })
      ),
      (s) =>
        Effect.promise(() =>
          new Promise<void>((resolve) => {
            s.closeAllConnections()
            s.close(() => resolve())
          })
        )
    ),
    (s) => {
      const address = s.address()
      return `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
    }
  )

/** Starts a provider whose client may send people back to `redirectUri` only. */
export const make = (redirectUri: string): Effect.Effect<TestProvider, never, Scope.Scope> =>
  Effect.gen(function*() {
    const people = new Map<string, ProviderPerson>()
    const { privateKey } = yield* Effect.promise(() => generateKeyPair("RS256", { extractable: true }))
    const jwk = { ...(yield* Effect.promise(() => exportJWK(privateKey))), kid: "test-key", alg: "RS256", use: "sig" }
    const clientId = "troupe-tests"
    const clientSecret = randomBytes(24).toString("hex")
    /** Made once the port, so the issuer, is known. */
    const made: { provider?: Provider } = {}
    const interact = async (req: IncomingMessage, res: ServerResponse, p: Provider) => {
      const details = await p.interactionDetails(req, res)
      const as = new URL(req.url ?? "/", "http://x").searchParams.get("as") ?? state.signInAs
      if (as === "deny") {
        return p.interactionFinished(req, res, { error: "access_denied", error_description: "the person said no" })
      }
      if (details.prompt.name === "login") {
        return p.interactionFinished(req, res, { login: { accountId: as } }, { mergeWithLastSubmission: false })
      }
      const grant = new p.Grant({ accountId: as, clientId: String(details.params["client_id"]) })
      grant.addOIDCScope(String(details.params["scope"]))
      return p.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, {
        mergeWithLastSubmission: true
      })
    }
    const url = yield* listen((req, res) => {
      const p = made.provider
      if (p === undefined) return res.end()
      if (req.url?.startsWith("/interaction/")) {
        interact(req, res, p).catch((e: unknown) => {
          res.statusCode = 500
          res.end(String(e))
        })
      } else void p.callback()(req, res)
    })
    const state: TestProvider = {
      url,
      clientId,
      clientSecret,
      add: (person) => {
        const id = `acct-${randomBytes(4).toString("hex")}`
        people.set(id, person)
        return id
      },
      signInAs: ""
    }
    made.provider = new Provider(url, {
      clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri] }],
      jwks: { keys: [jwk] },
      cookies: { keys: [randomBytes(16).toString("hex")] },
      claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
      // Conformant: for the `email` scope the e-mail claims are served by the userinfo endpoint, not in the ID token.
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      findAccount: (_ctx, sub) => {
        const who = people.get(sub)
        return who === undefined ? undefined : {
          accountId: sub,
          claims: () => ({ sub, email: who.email, email_verified: who.verified, name: who.name })
        }
      }
    })
    return state
  })
