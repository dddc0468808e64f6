import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger, Redacted } from "effect"
import * as Mailer from "../src/Mailer.js"
import * as SmtpServer from "../src/testing/SmtpServer.js"

const link = `http://127.0.0.1:8787/reset#trp_r_${"Ab-_9".repeat(9)}`
const mail: Mailer.Mail = {
  to: "zoe@example.com",
  subject: "Choose a new password",
  text: `Hello Zoë,\n\nthis line is long enough to be folded by quoted-printable encoding, surely:\n\n${link}\n`
}

const send = (m: Mailer.Mail) => Effect.flatMap(Mailer.Mailer, (mailer) => mailer.send(m))

/** What the layer's mailer logged while sending `m`. */
const logged = (layer: Layer.Layer<Mailer.Mailer, unknown>, m: Mailer.Mail) =>
  Effect.gen(function*() {
    const lines: Array<{ level: string; text: string }> = []
    const capture = Logger.make(({ logLevel, message }) => {
      lines.push({ level: logLevel.label, text: Array.isArray(message) ? message.join(" ") : String(message) })
    })
    yield* send(m).pipe(Effect.provide(layer), Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
    return lines
  })

const configured = (env: Record<string, string>) =>
  Mailer.layerConfig.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromJson(env))))

describe("the mailer", () => {
  it.scoped("through SMTP: the mail arrives from MAIL_FROM, signed in with the URL's user, its text intact", () =>
    Effect.gen(function*() {
      const smtp = yield* SmtpServer.make({ credentials: { user: "troupe", pass: "s3cret pass" } })
      yield* send(mail).pipe(
        Effect.provide(configured({ SMTP_URL: smtp.url, MAIL_FROM: "Acme Troupe <chat@acme.example>" }))
      )
      const [received] = yield* smtp.received(mail.to)
      expect(received).toMatchObject({
        from: "chat@acme.example",
        to: ["zoe@example.com"],
        user: "troupe",
        secure: false,
        headers: { subject: mail.subject, from: "Acme Troupe <chat@acme.example>", to: "zoe@example.com" }
      })
      expect(received?.text).toBe(mail.text.trimEnd())
    }))

  it.scoped("over TLS from the start with smtps://", () =>
    Effect.gen(function*() {
      const smtp = yield* SmtpServer.make({ secure: true, credentials: { user: "u", pass: "p" } })
      yield* send(mail).pipe(Effect.provide(Mailer.layerSmtp({ url: Redacted.make(smtp.url), from: "t@example.com" })))
      const [received] = yield* smtp.received(mail.to)
      expect(received).toMatchObject({ secure: true, user: "u" })
      expect(received?.text).toContain(link)
    }))

  it.scoped("a server that refuses the credentials, or no server at all, is a MailError naming the recipient", () =>
    Effect.gen(function*() {
      const smtp = yield* SmtpServer.make({ credentials: { user: "troupe", pass: "right" } })
      const wrongUrl = smtp.url.replace(":right@", ":wrong@")
      expect(wrongUrl).not.toBe(smtp.url)
      for (const url of [wrongUrl, "smtp://127.0.0.1:1"]) {
        const error = yield* Effect.flip(
          send(mail).pipe(Effect.provide(Mailer.layerSmtp({ url: Redacted.make(url), from: "t@example.com" })))
        )
        expect(error).toMatchObject({ _tag: "MailError", message: expect.stringContaining(mail.to) })
      }
    }))

  it.effect("without SMTP_URL, each mail is written to the log at warn level, link included", () =>
    Effect.gen(function*() {
      const lines = yield* logged(configured({}), mail)
      expect(lines).toEqual([{ level: "WARN", text: expect.stringContaining(link) }])
      expect(lines[0]?.text).toContain(`pass it on to ${mail.to}`)
      expect(lines[0]?.text).toContain(`Subject: ${mail.subject}`)
    }))

  it.effect("with SMTP_URL, nothing about the mail is logged", () =>
    Effect.scoped(Effect.gen(function*() {
      const smtp = yield* SmtpServer.make()
      const lines = yield* logged(configured({ SMTP_URL: smtp.url }), mail)
      expect(lines).toEqual([])
      expect(yield* smtp.received(mail.to)).toHaveLength(1)
    })))

  it.effect("the test mailer keeps mail per recipient and waits for it", () =>
    Effect.gen(function*() {
      const box = yield* Mailer.Mailbox
      const waiting = yield* Effect.fork(box.received("ZOE@example.com", 2))
      yield* send(mail)
      yield* send({ ...mail, to: "someone@example.com" })
      yield* send({ ...mail, subject: "second" })
      const mails = yield* waiting.await.pipe(Effect.flatten)
      expect(mails.map((m) => m.subject)).toEqual([mail.subject, "second"])
    }).pipe(Effect.provide(Mailer.layerTest)))
})
