/**
 * The migrator: applies `sql/NNNN_name.sql` in order, in one transaction, under an advisory lock (many
 * processes may launch at once), records the version in the same transaction, and refuses a database whose
 * schema is newer than this code.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Data } from "effect"
import type { SqlClient } from "./client.ts"
import { pgClient, type PgClientOptions } from "./pgClient.ts"
import { schemaIdent } from "./queries.ts"
import { optionsObject, validateSchema, validateUrl } from "./options.ts"

/** The schema in the database is newer than this code, or a migration failed. */
export class MigrationError extends Data.TaggedError("MigrationError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return this.reason
  }
}

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

const sqlDir = (): string => {
  // The published package carries the migrations in dist/sql, next to this file once built (its prepack copies
  // them); in the repository the one source of truth is the top-level sql/. The first migration must be there,
  // so an unrelated directory named sql (a package of that name beside an installed copy, say) is never taken.
  for (const rel of ["./sql/", "../../../sql/"]) {
    const dir = fileURLToPath(new URL(rel, import.meta.url))
    if (existsSync(dir + "0001_init.sql")) return dir
  }
  throw new MigrationError({ reason: "cannot find the sql/ migrations directory next to @durably/postgres" })
}

let cached: ReadonlyArray<Migration> | undefined
/** Every migration, in order. */
export const migrations = (): ReadonlyArray<Migration> => {
  if (cached) return cached
  const dir = sqlDir()
  cached = readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f.slice(5, -4), sql: readFileSync(dir + f, "utf8") }))
  cached.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new MigrationError({
        reason: `migrations must be numbered 0001, 0002, …; found ${m.version} at position ${i + 1}`,
      })
  })
  return cached
}

export interface MigrateResult {
  readonly from: number
  readonly to: number
}

/** Bring `schema` up to date on an open client. */
export const migrateWith = async (client: SqlClient, schema: string): Promise<MigrateResult> => {
  const s = schemaIdent(schema)
  const all = migrations()
  const latest = all.length
  return client.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`durably:migrate:${schema}`])
    await tx.exec(
      `CREATE SCHEMA IF NOT EXISTS ${s};
       CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    )
    const [row] = await tx.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s}.schema_migrations`)
    const from = Number(row?.v ?? 0)
    if (from > latest)
      throw new MigrationError({
        reason: `the Durably schema ${s} is at version ${from}, newer than this code knows (${latest}); upgrade @durably/postgres, or use another schema`,
      })
    for (const m of all.slice(from)) {
      try {
        await tx.exec(m.sql.replaceAll("__SCHEMA__", s))
      } catch (cause) {
        throw new MigrationError({ reason: `migration ${m.version} (${m.name}) failed: ${String(cause)}`, cause })
      }
      await tx.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name])
    }
    return { from, to: Math.max(from, latest) }
  })
}

/** Apply the migrations to a Postgres database: `await migrate({ url, schema: "durably" })`. */
export const migrate = async (options: PgClientOptions & { readonly schema?: string }): Promise<MigrateResult> => {
  const schema = validateSchema(optionsObject(options, "migrate").schema ?? "durably")
  validateUrl(options.url, "migrate")
  const client = pgClient({ ...options, max: 1 })
  try {
    return await migrateWith(client, schema)
  } finally {
    await client.close()
  }
}
