/**
 * Where outbound webhooks may go. An endpoint's URL is `http` or `https`,
 * with a host and no credentials in it. Unless `WEBHOOK_ALLOW_PRIVATE` is
 * set, a webhook never reaches this network's own machines: loopback,
 * private (RFC 1918), link-local (cloud metadata included), unique-local
 * IPv6, "this network" (0.0.0.0/8) and CGNAT (100.64.0.0/10) addresses are
 * refused. A URL naming such an address is refused when it is saved; a host
 * name is checked where the connection is made, on the address it resolved
 * to, so a name that resolves elsewhere later (DNS rebinding) is caught too.
 */
import { Config, Data, Effect } from "effect"
import * as Dns from "node:dns"
import * as Http from "node:http"
import * as Https from "node:https"
import { BlockList, isIP, type LookupFunction } from "node:net"

/** Whether webhooks may be sent to private and loopback addresses (for tests and closed networks). */
export const AllowPrivate = Config.boolean("WEBHOOK_ALLOW_PRIVATE").pipe(Config.withDefault(false))

const privateRanges = new BlockList()
for (
  const [network, prefix] of [
    ["0.0.0.0", 8],
    ["10.0.0.0", 8],
    ["100.64.0.0", 10],
    ["127.0.0.0", 8],
    ["169.254.0.0", 16],
    ["172.16.0.0", 12],
    ["192.168.0.0", 16]
  ] as const
) privateRanges.addSubnet(network, prefix, "ipv4")
for (
  const [network, prefix] of [
    ["::", 128],
    ["::1", 128],
    ["fc00::", 7],
    ["fe80::", 10]
  ] as const
) privateRanges.addSubnet(network, prefix, "ipv6")

/**
 * Whether `address` (an IP address, IPv6 with or without brackets) is one a
 * webhook may not reach. IPv4 addresses written as IPv6 (`::ffff:127.0.0.1`)
 * count as the IPv4 address. Host names are not addresses: false.
 */
export const isPrivateAddress = (address: string): boolean => {
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address
  const family = isIP(bare)
  return family !== 0 && privateRanges.check(bare, family === 6 ? "ipv6" : "ipv4")
}

/** Why a delivery to `host` was refused: it resolved to `address`. */
export class PrivateAddressRefused extends Data.TaggedError("PrivateAddressRefused")<{
  readonly host: string
  readonly address: string
}> {
  override get message() {
    const resolved = this.host === this.address ? "is" : `resolves to ${this.address},`
    return `refused: ${this.host} ${resolved} a private or loopback address (WEBHOOK_ALLOW_PRIVATE is off)`
  }
}

/**
 * What is wrong with `url` as an endpoint's URL, or undefined when nothing is:
 * not an absolute http(s) URL, credentials in it, or (unless `allowPrivate`)
 * a private address written in it.
 */
export const urlProblem = (url: string, allowPrivate: boolean): string | undefined => {
  if (!URL.canParse(url)) return "a webhook URL is an absolute http:// or https:// URL"
  const parsed = new URL(url)
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `a webhook URL starts with http:// or https://, not ${parsed.protocol}//`
  }
  if (parsed.username !== "" || parsed.password !== "") return "a webhook URL has no user name or password in it"
  if (parsed.hostname === "") return "a webhook URL names a host"
  if (!allowPrivate && isPrivateAddress(parsed.hostname)) {
    return `a webhook may not be sent to ${parsed.hostname}, a private or loopback address ` +
      "(the server's WEBHOOK_ALLOW_PRIVATE setting allows it)"
  }
  return undefined
}

/**
 * A DNS lookup for sockets that refuses private addresses: a name is refused
 * when any address it resolves to is private, so a connection can never be
 * made to one.
 */
const refusingLookup: LookupFunction = (hostname, options, callback) =>
  Dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error !== null) return callback(error, [])
    const refused = addresses.find((a) => isPrivateAddress(a.address))
    if (refused !== undefined) {
      return callback(new PrivateAddressRefused({ host: hostname, address: refused.address }), [])
    }
    const [first] = addresses
    if (options.all === true || first === undefined) return callback(null, addresses)
    return callback(null, first.address, first.family)
  })

/** A receiver's answer: its status and its `Retry-After` header. */
export interface Answer {
  readonly status: number
  readonly retryAfter: string | undefined
}

/** A webhook that got no answer, and why: refused (a private address, `reason` says which) or not answered. */
export class NoAnswer extends Data.TaggedError("NoAnswer")<{ readonly refused: boolean; readonly reason: string }> {}

/**
 * POSTs `body` to `url` with `headers` and answers the status; redirects are
 * not followed (a 3xx is an answer). Unless `allowPrivate`, connecting to a
 * private address fails with the refusal as the reason. Interrupting it
 * aborts the request.
 */
export const post = (url: string, headers: Record<string, string>, body: string, allowPrivate: boolean) =>
  Effect.async<Answer, NoAnswer>((resume, signal) => {
    const target = new URL(url)
    if (!allowPrivate && isPrivateAddress(target.hostname)) {
      const address = target.hostname
      const refusal = new PrivateAddressRefused({ host: address, address })
      return resume(Effect.fail(new NoAnswer({ refused: true, reason: refusal.message })))
    }
    const request = (target.protocol === "https:" ? Https : Http).request(target, {
      method: "POST",
      headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      signal,
      ...(allowPrivate ? {} : { lookup: refusingLookup })
    }, (response) => {
      response.resume()
      const retryAfter = response.headers["retry-after"]
      resume(Effect.succeed({ status: response.statusCode ?? 0, retryAfter }))
    })
    request.on("error", (error) => {
      const refused = error instanceof PrivateAddressRefused
      resume(Effect.fail(new NoAnswer({ refused, reason: refused ? error.message : "no answer" })))
    })
    request.end(body)
  })
