/**
 * Which store a command talks to: `--dir` (embedded PGlite), else `--url`, else $DATABASE_URL, else the PG*
 * variables as psql reads them; `--schema` for all. Passwords are never printed: descriptions drop them,
 * and `redact` scrubs any message that might quote one.
 */
import type { Store } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { usageError } from "./exitCodes.ts"

export type Connection =
  | { readonly kind: "postgres"; readonly url: string | undefined; readonly schema: string }
  | { readonly kind: "embedded"; readonly dir: string; readonly schema: string }

export interface ConnectionFlags {
  readonly url?: string | undefined
  readonly dir?: string | undefined
  readonly schema?: string | undefined
}

const hasPgEnv = (env: NodeJS.ProcessEnv) => ["PGHOST", "PGDATABASE", "PGUSER", "PGPORT"].some((k) => env[k])

export const resolveConnection = (flags: ConnectionFlags, env: NodeJS.ProcessEnv): Connection => {
  const schema = flags.schema ?? "durably"
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema))
    throw usageError(`--schema ${JSON.stringify(schema)} is not a valid schema name (letters, digits, _)`)
  if (flags.dir !== undefined && flags.url !== undefined) throw usageError("give --url or --dir, not both")
  if (flags.dir !== undefined) {
    if (flags.dir === "") throw usageError("--dir needs a directory")
    return { kind: "embedded", dir: flags.dir, schema }
  }
  const url = flags.url ?? (env["DATABASE_URL"] || undefined)
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(url))
      throw usageError(`the connection URL must start with postgres:// (got ${describeUrl(url)})`)
    return { kind: "postgres", url, schema }
  }
  if (hasPgEnv(env)) return { kind: "postgres", url: undefined, schema }
  throw usageError("no database: pass --url postgres://…, set DATABASE_URL, or use --dir DIR for an embedded store")
}

/** A URL without its password (and without query parameters, which may carry one). */
export const describeUrl = (url: string): string => {
  try {
    const u = new URL(url)
    const user = u.username ? `${decodeURIComponent(u.username)}@` : ""
    return `${u.protocol}//${user}${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`
  } catch {
    return "(an unparsable URL)"
  }
}

export const describeConnection = (c: Connection, env: NodeJS.ProcessEnv): string =>
  c.kind === "embedded"
    ? `embedded store in ${c.dir} (schema ${c.schema})`
    : `${c.url ? describeUrl(c.url) : `postgres://${env["PGUSER"] ?? ""}@${env["PGHOST"] ?? "localhost"}:${env["PGPORT"] ?? "5432"}/${env["PGDATABASE"] ?? ""}`} (schema ${c.schema})`

/** Every secret a message could quote: the URL's password (raw and encoded) and PGPASSWORD. */
export const secretsOf = (c: Connection | undefined, env: NodeJS.ProcessEnv): ReadonlyArray<string> => {
  const secrets: string[] = []
  if (env["PGPASSWORD"]) secrets.push(env["PGPASSWORD"])
  const url = c?.kind === "postgres" ? c.url : env["DATABASE_URL"]
  if (url) {
    try {
      const u = new URL(url)
      if (u.password) secrets.push(u.password, decodeURIComponent(u.password))
      const fromQuery = u.searchParams.get("password")
      if (fromQuery) secrets.push(fromQuery)
    } catch {
      // An unparsable URL: its whole text is the secret.
      secrets.push(url)
    }
  }
  return secrets.filter((s) => s.length > 0)
}

export const redact = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.reduce((t, s) => t.split(s).join("***"), text)

/**
 * Open the store the connection names (the embedded one is loaded only when asked for). A Postgres store is
 * never migrated here: only `durably migrate` changes a schema.
 */
export const openStore = async (c: Connection): Promise<Store> => {
  if (c.kind === "embedded") {
    const { embeddedStore } = await import("@durably/postgres/embedded")
    return embeddedStore({ dir: c.dir, schema: c.schema })
  }
  return postgresStore({ ...(c.url ? { url: c.url } : {}), schema: c.schema, max: 4, migrate: false })
}
