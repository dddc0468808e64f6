/**
 * Server configuration, all from the environment with documented defaults.
 */
import { Config, Duration } from "effect"

/** HTTP listener and feed settings. */
export const ServerConfig = Config.all({
  /** HTTP port (`PORT`, default 8787). */
  port: Config.integer("PORT").pipe(Config.withDefault(8787)),
  /** HTTP listen address (`HOST`, default 127.0.0.1). */
  host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1")),
  /** SSE keep-alive interval (`SSE_HEARTBEAT`, default 15 seconds). */
  heartbeat: Config.duration("SSE_HEARTBEAT").pipe(Config.withDefault(Duration.seconds(15))),
  /**
   * Trust the first address in `X-Forwarded-For` as the client's (`TRUST_PROXY`, default false).
   * Turn on only behind a proxy that sets it, or clients could pick their own address.
   */
  trustProxy: Config.boolean("TRUST_PROXY").pipe(Config.withDefault(false)),
  /**
   * The address people reach this server at, for links it hands out such as
   * invitations (`PUBLIC_URL`; default `http://HOST:PORT`, with 127.0.0.1 for
   * a wildcard `HOST`). Set it behind a proxy or a domain name.
   */
  publicUrl: Config.option(Config.string("PUBLIC_URL"))
})

/** The base of the links this server hands out. */
export const publicBase = (config: ServerConfig): string => {
  if (config.publicUrl._tag === "Some") return config.publicUrl.value.replace(/\/+$/, "")
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}`
}

/** The resolved configuration. */
export type ServerConfig = Config.Config.Success<typeof ServerConfig>
