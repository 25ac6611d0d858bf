/**
 * The migrator on a real server: applies and records, is a no-op the second time, survives ten processes
 * migrating one schema at once, refuses a schema newer than the code and bad schema names; and what
 * `postgresStore` does with it at launch (fail fast when unreachable, `migrate: false`).
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import postgres from "postgres"
import { afterAll, describe, expect, it } from "vitest"
import { defineWorkflow, Durably, InvalidArgument, type Store } from "@durably/core"
import { migrate, migrations, MigrationError, postgresStore } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"

const url = await databaseUrl()
const sql = postgres(url, { max: 2, onnotice: () => undefined })
const schemas: string[] = []
afterAll(async () => {
  await Promise.all(schemas.map((s) => dropSchema(url, s)))
  await sql.end({ timeout: 5 })
})

/** A fresh schema for one test, dropped after the file. */
const schemaForTest = () => {
  const schema = freshSchema("migrate")
  schemas.push(schema)
  return schema
}

const latest = migrations().length
const childScript = fileURLToPath(new URL("./fixtures/migrate-child.ts", import.meta.url))

const recorded = (schema: string) =>
  sql.unsafe<{ version: number; name: string; applied_at: Date }[]>(
    `SELECT version, name, applied_at FROM "${schema}".schema_migrations ORDER BY version`,
  )

const schemaExists = async (schema: string) =>
  (await sql`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`).length > 0

/** The rejection of `p`; fails the test if it resolves. */
const rejectionOf = async (p: Promise<unknown>): Promise<unknown> => {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error("expected a rejection, but it resolved")
}

/** Every message and stack along an error's cause chain, for "never says X" checks. */
const everythingSaid = (e: unknown): string => {
  const parts: string[] = []
  for (let c: unknown = e, depth = 0; c !== undefined && c !== null && depth < 10; depth++) {
    if (c instanceof Error) parts.push(c.toString(), c.message, c.stack ?? "")
    try {
      parts.push(JSON.stringify(c) ?? "")
    } catch {
      parts.push("(not serializable)")
    }
    c = (c as { cause?: unknown }).cause
  }
  return parts.join("\n")
}

const closeStore = (store: Store) => Effect.runPromise(store.close())

const double = defineWorkflow("double", async (ctx, n: number) => ctx.step("double", () => n * 2))

/** Run one migrating child process per entry, all released at the same moment; resolves with their outputs. */
const migrateInProcesses = async (count: number, schema: string) => {
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ["--conditions=@durably/source", childScript, url, schema], {
      stdio: ["pipe", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    let onReady: () => void = () => undefined
    const ready = new Promise<void>((resolve) => (onReady = resolve))
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
      if (stdout.startsWith("ready\n")) onReady()
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    // A child that dies before it is ready must not leave the barrier waiting forever.
    void exited.then(onReady)
    return { child, ready, exited, output: () => ({ stdout, stderr }) }
  })
  await Promise.all(children.map((c) => c.ready))
  for (const c of children) c.child.stdin.end("go\n")
  return Promise.all(
    children.map(async (c) => {
      const code = await c.exited
      const { stdout, stderr } = c.output()
      return { code, stderr, result: stdout.split("\n")[1] ?? "" }
    }),
  )
}

describe("migrate", () => {
  it("applies every migration to a fresh schema and records each version", async () => {
    const schema = schemaForTest()
    expect(await migrate({ url, schema })).toEqual({ from: 0, to: latest })
    const rows = await recorded(schema)
    expect(rows.map((r) => ({ version: r.version, name: r.name }))).toEqual(
      migrations().map((m) => ({ version: m.version, name: m.name })),
    )
    const [tables] = await sql.unsafe<{ workflows: string | null; steps: string | null; executors: string | null }[]>(
      `SELECT to_regclass('"${schema}".workflows')::text AS workflows, to_regclass('"${schema}".steps')::text AS steps,
              to_regclass('"${schema}".executors')::text AS executors`,
    )
    expect(tables).toEqual({
      workflows: `${schema}.workflows`,
      steps: `${schema}.steps`,
      executors: `${schema}.executors`,
    })
  })

  it("is a no-op when the schema is already at the latest version", async () => {
    const schema = schemaForTest()
    await migrate({ url, schema })
    const before = await recorded(schema)
    expect(await migrate({ url, schema })).toEqual({ from: latest, to: latest })
    expect(await recorded(schema)).toEqual(before)
  })

  it("ten processes migrating one fresh schema at once all succeed, and each migration is applied once", async () => {
    const schema = schemaForTest()
    const results = await migrateInProcesses(10, schema)
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 })
    const outcomes = results.map((r) => JSON.parse(r.result) as { from: number; to: number })
    // Exactly one process found the schema empty; the others waited on the lock and found it up to date.
    expect(outcomes.filter((o) => o.from === 0)).toEqual([{ from: 0, to: latest }])
    expect(outcomes.filter((o) => o.from === latest)).toHaveLength(9)
    const rows = await recorded(schema)
    expect(rows.map((r) => r.version)).toEqual(migrations().map((m) => m.version))
    expect(Math.max(...rows.map((r) => r.version))).toBe(latest)
  }, 120_000)

  it("refuses a schema newer than the code, naming both versions", async () => {
    const schema = schemaForTest()
    await migrate({ url, schema })
    const future = latest + 1
    await sql.unsafe(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, 'from_the_future')`, [
      future,
    ])
    const error = await rejectionOf(migrate({ url, schema }))
    expect(error).toBeInstanceOf(MigrationError)
    expect((error as MigrationError)._tag).toBe("MigrationError")
    const message = (error as MigrationError).message
    expect(message).toContain(`version ${future}`)
    expect(message).toContain(`(${latest})`)
    expect(message).toContain(schema)
    expect((await recorded(schema)).map((r) => r.version)).toEqual([...migrations().map((m) => m.version), future])

    // A store that migrates at launch refuses in the same words.
    const store = postgresStore({ url, schema })
    try {
      const launchError = await rejectionOf(Durably.launch({ store, workflows: [double], logger: false }))
      expect(everythingSaid(launchError)).toContain(`version ${future}, newer than this code knows (${latest})`)
    } finally {
      await closeStore(store)
    }
  })

  it.each([
    ["an injection attempt", "Robert'); drop"],
    ["upper case", "Durably"],
    ["64 characters", "a".repeat(64)],
    ["empty", ""],
  ])("refuses an invalid schema name (%s) with InvalidArgument", async (_what, schema) => {
    const error = await rejectionOf(migrate({ url, schema }))
    expect(error).toBeInstanceOf(InvalidArgument)
    expect((error as InvalidArgument).message).toContain("schema must be a lower-case SQL identifier")
    expect((error as InvalidArgument).message).toContain(JSON.stringify(schema))
    expect(() => postgresStore({ url, schema })).toThrow(InvalidArgument)
    expect(await schemaExists(schema)).toBe(false)
  })

  it("accepts the longest valid schema name (55 characters: its NOTIFY channel takes 8 more) and refuses one longer", async () => {
    expect(() => postgresStore({ url, schema: freshSchema("migrate").padEnd(56, "x") })).toThrow(
      /at most 55 characters/,
    )
    const schema = freshSchema("migrate").padEnd(55, "x")
    schemas.push(schema)
    expect(await migrate({ url, schema })).toEqual({ from: 0, to: latest })
    expect(await schemaExists(schema)).toBe(true)
  })
})

describe("postgresStore at launch", () => {
  it("fails fast when the server is unreachable, naming host, port and database but not the password", async () => {
    const store = postgresStore({ url: "postgres://root:s3cret@127.0.0.1:1/test" })
    try {
      const error = await rejectionOf(Durably.launch({ store, workflows: [double], logger: false }))
      const message = (error as Error).message
      expect(message).toContain("127.0.0.1:1")
      expect(message).toMatch(/\btest\b/)
      expect(everythingSaid(error)).not.toContain("s3cret")
    } finally {
      await closeStore(store)
    }
  }, 20_000)

  it("with migrate: false, does not touch an unmigrated schema", async () => {
    const schema = schemaForTest()
    const store = postgresStore({ url, schema, migrate: false })
    try {
      const error = await rejectionOf(Durably.launch({ store, workflows: [double], logger: false }))
      expect((error as Error).message).toMatch(/does not exist/)
    } finally {
      await closeStore(store)
    }
    expect(await schemaExists(schema)).toBe(false)
  })

  it("with migrate: false, runs on a schema migrated beforehand and leaves its migrations alone", async () => {
    const schema = schemaForTest()
    await migrate({ url, schema })
    const before = await recorded(schema)
    const durably = await Durably.launch({
      store: postgresStore({ url, schema, migrate: false }),
      workflows: [double],
      logger: false,
    })
    try {
      expect(await durably.run(double, 21)).toBe(42)
    } finally {
      await durably.shutdown()
    }
    expect(await recorded(schema)).toEqual(before)
  })
})
