/**
 * A real SMTP server on 127.0.0.1 for tests (the `smtp-server` package), that
 * keeps every mail it is given. With `credentials`, it takes mail only from
 * clients that authenticate with them; with `secure`, connections are TLS from
 * the start (the package's own self-signed certificate).
 */
import { Context, Effect, Layer, Runtime, type Scope } from "effect"
import { SMTPServer } from "smtp-server"
import * as Collected from "../internal/Collected.js"

/** A mail as the server received it. */
export interface ReceivedMail {
  /** The envelope's sender and recipients. */
  readonly from: string
  readonly to: ReadonlyArray<string>
  /** The user the client authenticated as; null without authentication. */
  readonly user: string | null
  /** Whether the connection was TLS. */
  readonly secure: boolean
  readonly headers: Readonly<Record<string, string>>
  /** The body, its transfer encoding undone. */
  readonly text: string
}

/** A running server. */
export interface SmtpServer {
  /** The URL a client reaches it at, with the credentials it needs. */
  readonly url: string
  /** The first `count` mails to `to` (any case), once that many arrived. */
  readonly received: (to: string, count?: number) => Effect.Effect<ReadonlyArray<ReceivedMail>>
}

/** A running server, as a service. */
export class SmtpCapture extends Context.Tag("@troupe/workspace/testing/SmtpCapture")<SmtpCapture, SmtpServer>() {}

/** Options of the server. */
export interface Options {
  readonly credentials?: { readonly user: string; readonly pass: string }
  readonly secure?: boolean
}

/** Headers by lower-case name, continuation lines joined. */
const parseHeaders = (block: string): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const line of block.replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
    const colon = line.indexOf(":")
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return headers
}

/** The body with its `Content-Transfer-Encoding` undone. */
const decodeBody = (encoding: string | undefined, body: string): string => {
  switch (encoding?.toLowerCase()) {
    case "quoted-printable":
      return Buffer.from(
        body.replace(/=\r\n/g, "").replace(
          /=([0-9A-Fa-f]{2})/g,
          (_, hex: string) => String.fromCharCode(parseInt(hex, 16))
        ),
        "latin1"
      ).toString("utf8")
    case "base64":
      return Buffer.from(body, "base64").toString("utf8")
    default:
      return body
  }
}

const parse = (raw: string): { headers: Record<string, string>; text: string } => {
  const split = raw.indexOf("\r\n\r\n")
  const headers = parseHeaders(split < 0 ? raw : raw.slice(0, split))
  const body = split < 0 ? "" : raw.slice(split + 4)
  return { headers, text: decodeBody(headers["content-transfer-encoding"], body).replace(/\r\n/g, "\n").trimEnd() }
}

/** Starts a server on a free loopback port; it stops when the scope closes. */
export const make = (options: Options = {}): Effect.Effect<SmtpServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const mails = yield* Collected.make<ReceivedMail>()
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const { credentials } = options
    const server = new SMTPServer({
      secure: options.secure ?? false,
      // Without a certificate of its own, a client would refuse the offer to upgrade.
      disabledCommands: ["STARTTLS"],
      authOptional: credentials === undefined,
      allowInsecureAuth: true,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (credentials !== undefined && auth.username === credentials.user && auth.password === credentials.pass) {
          callback(null, { user: auth.username })
        } else callback(new Error("wrong user or password"))
      },
      onData: (stream, session, callback) => {
        const chunks: Array<Buffer> = []
        stream.on("data", (chunk: Buffer) => chunks.push(chunk))
        stream.on("end", () => {
          const { headers, text } = parse(Buffer.concat(chunks).toString("latin1"))
          runFork(mails.add({
            from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
            user: typeof session.user === "string" ? session.user : null,
            secure: session.secure,
            headers,
            text
          }))
          callback()
        })
      }
    })
    const port = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => {
          const address = server.server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
        })
      }),
      () => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
    )
    const auth = credentials === undefined
      ? ""
      : `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.pass)}@`
    const url = options.secure === true
      ? `smtps://${auth}127.0.0.1:${port}/?tls.rejectUnauthorized=false`
      : `smtp://${auth}127.0.0.1:${port}`
    return {
      url,
      received: (to, count = 1) =>
        mails.first((mail) => mail.to.some((address) => address.toLowerCase() === to.toLowerCase()), count)
    }
  })

/** A server as a layer. */
export const layer = (options: Options = {}): Layer.Layer<SmtpCapture> => Layer.scoped(SmtpCapture, make(options))
