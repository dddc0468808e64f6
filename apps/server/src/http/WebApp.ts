/**
 * The web app (`apps/web`, built by Vite into `apps/web/dist`), served by the
 * node itself next to the API. The built files are read into memory once at
 * start-up, so a request can only ever reach a file the build produced (no
 * path from the URL touches the file system).
 *
 * - Hashed assets (`/assets/…`) are cached for a year as immutable.
 * - `index.html` is revalidated on every load (`no-cache` with an ETag), so
 *   a new build is picked up at the next reload.
 * - A browser navigating to any other path that is not the API, the docs,
 *   the probes or `/metrics` gets `index.html`: the app's own routes survive
 *   a reload. Other clients get the API's JSON 404 for unknown paths.
 * - Without a build, navigations answer 503 with how to build it.
 */
import { HttpApiBuilder, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Config, Effect } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** Where `npm run build:web` writes the app. */
export const defaultWebDist = fileURLToPath(new URL("../../../web/dist", import.meta.url))

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".woff2": "font/woff2",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8"
}

interface Asset {
  readonly body: Uint8Array
  readonly type: string
  readonly etag: string
  readonly cache: string
}

/** Every file under `dir`, by URL path (`/assets/index-abc.js`). */
const readBuild = (dir: string): Map<string, Asset> => {
  const assets = new Map<string, Asset>()
  if (!Fs.existsSync(Path.join(dir, "index.html"))) return assets
  for (const entry of Fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = Path.join(entry.parentPath, entry.name)
    const urlPath = "/" + Path.relative(dir, file).split(Path.sep).join("/")
    const body = Fs.readFileSync(file)
    assets.set(urlPath, {
      body,
      type: types[Path.extname(file)] ?? "application/octet-stream",
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
      cache: urlPath.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache"
    })
  }
  return assets
}

/** Paths that belong to the server, never to the app. */
const serverPaths = /^\/(?:v1(?:\/|$)|health(?:\/|$)|docs(?:\/|$)|metrics$)/

const notBuilt = HttpServerResponse.text(
  "The web app is not built. Run `npm run build:web` (`npm start` builds it when it is missing or stale).\n",
  { status: 503, headers: { "retry-after": "5" } }
)

const respond = (asset: Asset, request: HttpServerRequest.HttpServerRequest) =>
  request.headers["if-none-match"] === asset.etag
    ? HttpServerResponse.empty({ status: 304, headers: { etag: asset.etag, "cache-control": asset.cache } })
    : HttpServerResponse.uint8Array(asset.body, {
      contentType: asset.type,
      headers: {
        etag: asset.etag,
        "cache-control": asset.cache,
        "x-content-type-options": "nosniff",
        ...(asset.type.startsWith("text/html")
          ? {
            "content-security-policy":
              "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; " +
              "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            "referrer-policy": "no-referrer"
          }
          : {})
      }
    })

/** The route serving the app, for `HttpApiBuilder.serve`'s layer graph. */
export const WebAppLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const dir = yield* Config.string("WEB_DIST").pipe(Config.withDefault(defaultWebDist))
    const assets = readBuild(dir)
    if (assets.size === 0) yield* Effect.logWarning(`no web app build in ${dir}; the browser app answers 503`)
    else yield* Effect.logDebug(`serving the web app from ${dir} (${assets.size} files)`)
    const index = assets.get("/index.html")
    const serve = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const path = request.url.split("?")[0] ?? "/"
      const notFound = Effect.fail(new HttpServerError.RouteNotFound({ request }))
      if (serverPaths.test(path)) return notFound
      const asset = assets.get(path === "/" ? "/index.html" : path)
      if (asset !== undefined) return Effect.succeed(respond(asset, request))
      // Only a browser navigating gets the app for an unknown path (one of its own routes); a
      // missing file, or a client that does not want HTML, gets the API's 404.
      const navigating = (request.headers["accept"] ?? "").includes("text/html") && Path.extname(path) === ""
      if (!navigating) return notFound
      return Effect.succeed(index === undefined ? notBuilt : respond(index, request))
    })
    yield* router.get("/", serve)
    yield* router.get("/*", serve)
  })
)
