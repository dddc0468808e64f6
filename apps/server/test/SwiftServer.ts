/**
 * A real S3 service for tests: OpenStack Swift with its S3 layer (s3api and
 * tempauth), from Debian's packages. Each call starts its own proxy, account,
 * container and object servers on free loopback ports, over one-replica rings
 * and a storage folder of its own, and stops them when the scope closes.
 * Swift checks SigV4 signatures, so a wrong secret is refused as on AWS.
 *
 * Swift reads `swift.conf` (the hash path suffix) from `/etc/swift` whatever
 * its other settings say; it is written there when missing.
 */
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client
} from "@aws-sdk/client-s3"
import { Duration, Effect, Schedule } from "effect"
import { execFile, spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { promisify } from "node:util"
import { freePort, stopGracefully } from "../src/testing/NodeProcess.js"

/** Swift's Debian packages, for the message when they are missing. */
export const SWIFT_PACKAGES = "swift-proxy swift-object swift-container swift-account python3-swift"

const SWIFT_CONF = "/etc/swift/swift.conf"
const SERVERS = ["account", "container", "object"] as const
const ACCOUNT = "test"
const USER = "tester"
const KEY = "testing"
const OUTPUT_KEPT = 10_000

/** A running Swift with its S3 layer. */
export interface SwiftS3 {
  /** The S3 endpoint, path-style. */
  readonly endpoint: string
  readonly region: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  /** How long the servers took to start, in milliseconds. */
  readonly startedInMs: number
  /** A client with the right credentials. */
  readonly client: S3Client
  /** Creates a bucket. */
  readonly createBucket: (bucket: string) => Effect.Effect<void>
  /** The keys in `bucket`. */
  readonly keys: (bucket: string) => Effect.Effect<ReadonlyArray<string>>
  /** Server settings that keep files in `bucket`. */
  readonly serverSettings: (bucket: string) => Record<string, string>
}

const run = promisify(execFile)

/** Fails with what to install when a Swift program is missing. */
const requireSwift = Effect.tryPromise({
  try: () =>
    Promise.all(
      ["swift-proxy-server", ...SERVERS.map((s) => `swift-${s}-server`)].map((program) => run("which", [program]))
    ),
  catch: () => new Error(`these tests need OpenStack Swift: apt-get install -y ${SWIFT_PACKAGES}`)
})

/** Writes the system `swift.conf` unless there is one (a concurrent run may write it first). */
const ensureSwiftConf = Effect.tryPromise({
  try: async () => {
    await Fs.mkdir(Path.dirname(SWIFT_CONF), { recursive: true })
    const conf = "[swift-hash]\nswift_hash_path_suffix = troupe-test\n\n" +
      "[storage-policy:0]\nname = Policy-0\ndefault = yes\n"
    await Fs.writeFile(SWIFT_CONF, conf, { flag: "wx" }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e
    })
  },
  catch: (e) => new Error(`cannot write ${SWIFT_CONF}, which Swift reads: ${String(e)}`)
})

/**
 * One-device, one-replica rings for the servers on `ports`, built in one
 * Python process (`swift-ring-builder` takes three runs of about a second
 * each per ring), with the Python Debian's Swift is installed for.
 */
const RINGS_PY = `
import sys
from swift.common.ring import RingBuilder
for spec in sys.argv[2:]:
    name, port = spec.split(":")
    builder = RingBuilder(6, 1, 1)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port), "device": "d1", "weight": 1.0})
    builder.rebalance()
    builder.get_ring().save("%s/%s.ring.gz" % (sys.argv[1], name))
`

const buildRings = (dir: string, ports: ReadonlyArray<number>) =>
  Effect.tryPromise({
    try: () => run("/usr/bin/python3", ["-c", RINGS_PY, dir, ...SERVERS.map((s, i) => `${s}:${ports[i] ?? 0}`)]),
    catch: (e) => new Error(`cannot build Swift's rings (apt-get install -y ${SWIFT_PACKAGES}): ${String(e)}`)
  })

/**
 * A server's configuration: its pipeline of `[name, egg]` pairs (the last is
 * the app), with extra lines for some sections.
 */
const conf = (
  dir: string,
  port: number,
  pipeline: ReadonlyArray<readonly [string, string]>,
  extra: Record<string, string> = {}
) => {
  const sections = [...new Map(pipeline).entries()].map(([name, egg]) =>
    `[${name === pipeline.at(-1)?.[0] ? "app" : "filter"}:${name}]\nuse = egg:swift#${egg}\n${extra[name] ?? ""}`
  )
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
user = ${Os.userInfo().username}
swift_dir = ${dir}
devices = ${Path.join(dir, "devices")}
mount_check = false
log_level = WARNING

[pipeline:main]
pipeline = ${pipeline.map(([name]) => name).join(" ")}

${sections.join("\n")}`
}

const serverConf = (dir: string, server: string, port: number) =>
  conf(dir, port, [["healthcheck", "healthcheck"], [`${server}-server`, server]])

/** The proxy with tempauth (one S3 user) and the S3 layer (which needs `slo` for multipart uploads). */
const proxyConf = (dir: string, port: number) =>
  conf(
    dir,
    port,
    [
      ["catch_errors", "catch_errors"],
      ["gatekeeper", "gatekeeper"],
      ["healthcheck", "healthcheck"],
      ["proxy-logging", "proxy_logging"],
      ["cache", "memcache"],
      ["s3api", "s3api"],
      ["tempauth", "tempauth"],
      ["slo", "slo"],
      ["dlo", "dlo"],
      ["proxy-logging", "proxy_logging"],
      ["proxy-server", "proxy"]
    ],
    { tempauth: `user_${ACCOUNT}_${USER} = ${KEY} .admin\n`, "proxy-server": "account_autocreate = true\n" }
  )

/** Starts `swift-<server>-server` on `conf`; stops it when the scope closes. */
const startServer = (server: string, conf: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(`swift-${server}-server`, [conf], { stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      const keep = (d: Buffer) => {
        output = (output + d.toString()).slice(-OUTPUT_KEPT)
      }
      child.stdout.on("data", keep)
      child.stderr.on("data", keep)
      return { server, child, output: () => output }
    }),
    ({ child }) => stopGracefully(child)
  )

type Started = Effect.Effect.Success<ReturnType<typeof startServer>>

/** Fails as soon as one of `servers` exits. */
const exited = (servers: ReadonlyArray<Started>) =>
  Effect.raceAll(servers.map(({ server, child, output }) =>
    Effect.async<never, Error>((resume) => {
      const fail = () => resume(Effect.fail(new Error(`swift-${server}-server exited: ${output()}`)))
      if (child.exitCode !== null) return fail()
      child.once("exit", fail)
    })
  ))

/** Answers once every server's `/healthcheck` says OK. */
const healthy = (ports: ReadonlyArray<number>) =>
  Effect.tryPromise(() =>
    Promise.all(ports.map(async (port) => {
      const response = await fetch(`http://127.0.0.1:${port}/healthcheck`)
      if (!response.ok) throw new Error(`port ${port} answered ${response.status}`)
    }))
  ).pipe(Effect.retry(Schedule.spaced("100 millis")))

/** Starts Swift with its S3 layer; it stops when the scope closes. */
export const start = Effect.gen(function*() {
  yield* requireSwift
  yield* ensureSwiftConf
  const began = Date.now()
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "troupe-swift-"))),
    (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
  )
  yield* Effect.promise(() => Fs.mkdir(Path.join(dir, "devices", "d1"), { recursive: true }))
  const proxyPort = yield* freePort
  const ports = yield* Effect.forEach(SERVERS, () => freePort)
  yield* buildRings(dir, ports)
  const servers = yield* Effect.forEach([...SERVERS, "proxy"], (server, i) =>
    Effect.gen(function*() {
      const conf = Path.join(dir, `${server}-server.conf`)
      const port = ports[i] ?? proxyPort
      const text = server === "proxy" ? proxyConf(dir, port) : serverConf(dir, server, port)
      yield* Effect.promise(() => Fs.writeFile(conf, text))
      return yield* startServer(server, conf)
    }))
  yield* Effect.raceFirst(healthy([...ports, proxyPort]), exited(servers)).pipe(
    Effect.timeoutFail({
      duration: Duration.seconds(60),
      onTimeout: () => new Error(`Swift did not start within 60 s: ${servers.map((s) => s.output()).join("\n")}`)
    })
  )
  const startedInMs = Date.now() - began
  const endpoint = `http://127.0.0.1:${proxyPort}`
  const accessKeyId = `${ACCOUNT}:${USER}`
  const region = "us-east-1"
  const client = yield* Effect.acquireRelease(
    Effect.sync(() =>
      new S3Client({
        region,
        endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId, secretAccessKey: KEY }
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )
  const swift: SwiftS3 = {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey: KEY,
    startedInMs,
    client,
    createBucket: (bucket) => Effect.promise(() => client.send(new CreateBucketCommand({ Bucket: bucket }))),
    keys: (bucket) =>
      Effect.promise(async () => {
        const keys: Array<string> = []
        let token: string | undefined = undefined
        do {
          const page: ListObjectsV2CommandOutput = await client.send(
            new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token })
          )
          for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key)
          token = page.NextContinuationToken
        } while (token !== undefined)
        return keys
      }),
    serverSettings: (bucket) => ({
      FILE_STORAGE: "s3",
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_REGION: region,
      S3_ACCESS_KEY_ID: accessKeyId,
      S3_SECRET_ACCESS_KEY: KEY
    })
  }
  return swift
})
