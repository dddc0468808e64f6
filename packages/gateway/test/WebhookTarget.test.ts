import { describe, expect, it } from "@effect/vitest"
import { isPrivateAddress, urlProblem } from "../src/WebhookTarget.js"

describe("webhook targets", () => {
  it("counts loopback, private, link-local, unique-local, CGNAT and this-network addresses as private", () => {
    for (
      const address of [
        "127.0.0.1",
        "127.255.0.9",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "::1",
        "[::1]",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254"
      ]
    ) expect(isPrivateAddress(address), address).toBe(true)
    for (
      const address of ["8.8.8.8", "172.32.0.1", "100.128.0.1", "169.255.0.1", "2606:4700::1111", "example.com"]
    ) expect(isPrivateAddress(address), address).toBe(false)
  })

  it("refuses URLs that are not http(s), carry credentials or write a private address, unless allowed", () => {
    expect(urlProblem("https://hooks.example.com/x", false)).toBeUndefined()
    expect(urlProblem("http://localhost:8080/x", false)).toBeUndefined()
    expect(urlProblem("ftp://example.com/x", false)).toBe("a webhook URL starts with http:// or https://, not ftp://")
    expect(urlProblem("not a url", false)).toMatch(/absolute http/)
    expect(urlProblem("https://user:pw@example.com/x", false)).toMatch(/user name or password/)
    for (
      const url of ["http://127.0.0.1:9/x", "http://[::1]/x", "http://169.254.169.254/latest", "http://2130706433/"]
    ) {
      expect(urlProblem(url, false), url).toMatch(/a private or loopback address/)
      expect(urlProblem(url, true), url).toBeUndefined()
    }
  })
})
