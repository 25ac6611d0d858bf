/**
 * Where Postgres tests find a server: DATABASE_URL, else the PG* defaults (as psql uses them), else a
 * testcontainers Postgres when a Docker engine is reachable, else a failure that says how to provide one.
 */
import { existsSync } from "node:fs"
import { userInfo } from "node:os"
import { randomBytes } from "node:crypto"
import postgres from "postgres"

let found: Promise<string> | undefined

const fromPgEnv = (): string => {
  const env = process.env
  const user = env["PGUSER"] ?? userInfo().username
  const host = env["PGHOST"] && !env["PGHOST"].startsWith("/") ? env["PGHOST"] : "localhost"
  const password = env["PGPASSWORD"] ? `:${encodeURIComponent(env["PGPASSWORD"])}` : ""
  return `postgres://${encodeURIComponent(user)}${password}@${host}:${env["PGPORT"] ?? "5432"}/${encodeURIComponent(env["PGDATABASE"] ?? user)}`
}

const reachable = async (url: string) => {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => undefined })
  try {
    await sql`select 1`
    return true
  } catch {
    return false
  } finally {
    await sql.end({ timeout: 1 })
  }
}

const dockerReachable = () => Boolean(process.env["DOCKER_HOST"]) || existsSync("/var/run/docker.sock")

export const databaseUrl = (): Promise<string> =>
  (found ??= (async () => {
    const explicit = process.env["DATABASE_URL"]
    if (explicit) return explicit
    const url = fromPgEnv()
    if (await reachable(url)) return url
    if (dockerReachable()) {
      const { PostgreSqlContainer } = await import("@testcontainers/postgresql")
      const container = await new PostgreSqlContainer("postgres:16-alpine").start()
      return container.getConnectionUri()
    }
    throw new Error(
      `Postgres tests need a server, and none answered at ${url.replace(/:[^:@/]*@/, "@")}. ` +
        "Set DATABASE_URL=postgres://user:password@host:5432/db, or the PG* variables as for psql (PGHOST, PGPORT, PGUSER, PGDATABASE), or start Docker so testcontainers can run one.",
    )
  })())

/** A fresh schema name, so test files can run in parallel on one database. */
export const freshSchema = (prefix = "t") => `${prefix}_${randomBytes(5).toString("hex")}`

export const dropSchema = async (url: string, schema: string) => {
  const sql = postgres(url, { max: 1, onnotice: () => undefined })
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await sql.end({ timeout: 1 })
  }
}
