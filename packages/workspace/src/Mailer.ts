/**
 * Outgoing mail. With `SMTP_URL` set, mail goes through that SMTP server
 * (nodemailer: TLS from the start with `smtps://`, STARTTLS when the server
 * offers it, authentication from the URL's user and password); without it,
 * each mail is written to the log at warn level, for the operator to pass on.
 */
import { Config, Context, Data, Effect, Layer, Option, Redacted } from "effect"
import { createTransport } from "nodemailer"
import * as Collected from "./internal/Collected.js"

/** A plain-text mail to one recipient. */
export interface Mail {
  readonly to: string
  readonly subject: string
  readonly text: string
}

/** A mail the SMTP server did not take. */
export class MailError extends Data.TaggedError("MailError")<{ readonly message: string; readonly cause?: unknown }> {}

/** Mail settings. */
export const MailConfig = Config.all({
  /**
   * The SMTP server mail goes through (`SMTP_URL`, e.g.
   * `smtps://user:password@smtp.example.com`); unset, mail is written to the log.
   */
  smtpUrl: Config.option(Config.redacted("SMTP_URL")),
  /** The sender of every mail (`MAIL_FROM`, default `Troupe <troupe@localhost>`). */
  from: Config.string("MAIL_FROM").pipe(Config.withDefault("Troupe <troupe@localhost>"))
})

/** Sends mail. */
export class Mailer extends Context.Tag("@troupe/workspace/Mailer")<Mailer, {
  /** Hands `mail` to the mail system; done once it took it. */
  readonly send: (mail: Mail) => Effect.Effect<void, MailError>
}>() {}

/** Mail through the SMTP server at `url`, sent as `from`; its connections close with the layer. */
export const layerSmtp = (options: { readonly url: Redacted.Redacted; readonly from: string }) =>
  Layer.scoped(
    Mailer,
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => createTransport(Redacted.value(options.url))),
        (transport) => Effect.sync(() => transport.close())
      ),
      (transport) =>
        Mailer.of({
          send: Effect.fn("Mailer.send")(function*(mail: Mail) {
            yield* Effect.tryPromise({
              try: () =>
                transport.sendMail({
                  from: options.from,
                  to: mail.to,
                  subject: mail.subject,
                  text: mail.text,
                  textEncoding: "quoted-printable"
                }),
              catch: (cause) =>
                new MailError({
                  message: `the SMTP server did not take the mail to ${mail.to}: ${
                    cause instanceof Error ? cause.message : String(cause)
                  }`,
                  cause
                })
            })
          })
        })
    )
  )

/** Each mail written to the log at warn level instead of sent (no SMTP server is configured). */
export const layerLog = Layer.succeed(
  Mailer,
  Mailer.of({
    send: (mail) =>
      Effect.logWarning(
        `SMTP_URL is not set, so this mail was not sent; pass it on to ${mail.to}.\n` +
          `Subject: ${mail.subject}\n\n${mail.text}`
      )
  })
)

/** As configured: through SMTP when `SMTP_URL` is set, to the log otherwise. */
export const layerConfig = Layer.unwrapEffect(Effect.map(MailConfig, (config) =>
  Option.match(config.smtpUrl, {
    onNone: () => layerLog,
    onSome: (url) => layerSmtp({ url, from: config.from })
  })))

/** What a `layerTest` mailer was given to send. */
export class Mailbox extends Context.Tag("@troupe/workspace/Mailer/Mailbox")<Mailbox, {
  /** Every mail so far. */
  readonly sent: Effect.Effect<ReadonlyArray<Mail>>
  /** The first `count` mails to `to` (any case), once that many were sent. */
  readonly received: (to: string, count?: number) => Effect.Effect<ReadonlyArray<Mail>>
}>() {}

/** A mailer that keeps every mail instead of sending it, and the `Mailbox` to read them: for tests. */
export const layerTest: Layer.Layer<Mailer | Mailbox> = Layer.effectContext(
  Effect.map(Collected.make<Mail>(), (sent) =>
    Context.make(Mailer, Mailer.of({ send: sent.add })).pipe(
      Context.add(
        Mailbox,
        Mailbox.of({
          sent: sent.all,
          received: (to, count = 1) => sent.first((mail) => mail.to.toLowerCase() === to.toLowerCase(), count)
        })
      )
    ))
)
