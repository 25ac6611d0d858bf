// The real binary: help, usage errors and their exit codes, connection handling, migrate on Postgres and on
// an embedded directory, and that a password never reaches the output.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { databaseUrl, dropSchema, freshSchema } from "../../postgres/test/pg.ts"
import { durably } from "./run.ts"

const url = await databaseUrl()
const schema = freshSchema("cli")
const dir = mkdtempSync(join(tmpdir(), "durably-cli-"))
const noDb = { DATABASE_URL: undefined, PGHOST: undefined, PGDATABASE: undefined, PGUSER: undefined, PGPORT: undefined }

afterAll(async () => {
  await dropSchema(url, schema)
  rmSync(dir, { recursive: true, force: true })
})

describe("durably", { timeout: 180_000 }, () => {
  it("prints help on every level with exit code 0, and usage errors with exit code 2", async () => {
    const top = await durably(["--help"])
    expect(top.code).toBe(0)
    expect(top.stdout).toContain("Usage: durably <command>")
    expect(top.stdout).toContain("migrate")
    const sub = await durably(["migrate", "--help"])
    expect(sub.code).toBe(0)
    expect(sub.stdout).toContain("Usage: durably migrate")
    expect(sub.stdout).toContain("--url <URL>")

    const { commands } = await import("../src/commands/index.ts")
    for (const c of commands) {
      const each = await durably([...c.path, "--help"])
      expect({ command: c.path, code: each.code }).toEqual({ command: c.path, code: 0 })
      expect(each.stdout).toContain(`Usage: durably ${c.path.join(" ")}`)
    }
    const group = await durably(["workflows", "--help"])
    expect(group.code).toBe(0)
    for (const verb of ["list", "get", "steps", "cancel", "resume", "fork", "delete", "prune"])
      expect(group.stdout).toContain(`  ${verb}`)

    const none = await durably([])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("Usage: durably")
    const unknown = await durably(["frobnicate"])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toBe('durably: unknown command "frobnicate"; see durably --help\n')
    const flag = await durably(["migrate", "--bogus"])
    expect(flag.code).toBe(2)
    expect(flag.stderr).toMatch(/^durably: Unknown option '--bogus'\.\n$/)
    const extra = await durably(["migrate", "surplus"])
    expect(extra.code).toBe(2)
    expect(extra.stderr).toContain('unexpected argument "surplus"')
    const version = await durably(["--version"])
    expect(version.code).toBe(0)
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/)
  })

  it("says how to connect when nothing names a database, and refuses two at once", async () => {
    const none = await durably(["migrate"], noDb)
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("no database: pass --url postgres://…, set DATABASE_URL, or use --dir")
    const both = await durably(["migrate", "--url", url, "--dir", dir])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain("give --url or --dir, not both")
    const schemaName = await durably(["migrate", "--url", url, "--schema", "no-dash;drop"])
    expect(schemaName.code).toBe(2)
    expect(schemaName.stderr).toContain("is not a valid schema name")
  })

  it("migrates a Postgres schema, then finds it up to date; --json gives one document", async () => {
    const first = await durably(["migrate", "--url", url, "--schema", schema])
    expect(first.stderr).toBe("")
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(new RegExp(`\\(schema ${schema}\\): migrated from version 0 to \\d+\\n$`))
    const again = await durably(["migrate", "--schema", schema, "--json"], { DATABASE_URL: url })
    expect(again.code).toBe(0)
    const doc = JSON.parse(again.stdout) as { schema: string; from: number; to: number }
    expect(doc.schema).toBe(schema)
    expect(doc.from).toBe(doc.to)
    expect(doc.to).toBeGreaterThan(0)
  })

  it("migrates an embedded directory", async () => {
    const ran = await durably(["migrate", "--dir", dir, "--json"], noDb)
    expect(ran.stderr).toBe("")
    expect(ran.code).toBe(0)
    expect(JSON.parse(ran.stdout)).toMatchObject({ schema: "durably" })
  })

  it("reports an unreachable database with exit code 5 and never prints the password", async () => {
    const secret = "hunter2-Sup3r-secret"
    const ran = await durably(["migrate", "--url", `postgres://someone:${secret}@127.0.0.1:1/nowhere`])
    expect(ran.code).toBe(5)
    expect(ran.stderr).toMatch(
      /^durably: postgres:\/\/someone@127\.0\.0\.1:1\/nowhere \(schema durably\): .*ECONNREFUSED/,
    )
    expect(ran.stdout + ran.stderr).not.toContain(secret)
    const wrong = await durably(["migrate", "--url", `postgres://nobody_here:${secret}@127.0.0.1:5432/postgres`])
    expect([5]).toContain(wrong.code)
    expect(wrong.stdout + wrong.stderr).not.toContain(secret)
  })

  it("never prints PGPASSWORD or a ?password= parameter in an error", async () => {
    const secret = "pgpass-Sup3r-secret"
    const fromEnv = await durably(["workflows", "list"], {
      ...noDb,
      PGHOST: "127.0.0.1",
      PGPORT: "1",
      PGUSER: "someone",
      PGDATABASE: "nowhere",
      PGPASSWORD: secret,
    })
    expect(fromEnv.code).toBe(5)
    expect(fromEnv.stderr).toMatch(
      /^durably: postgres:\/\/someone@127\.0\.0\.1:1\/nowhere \(schema durably\): .*ECONNREFUSED/,
    )
    expect(fromEnv.stdout + fromEnv.stderr).not.toContain(secret)
    const inQuery = await durably([
      "workflows",
      "list",
      "--url",
      `postgres://someone@127.0.0.1:1/nowhere?password=${secret}`,
    ])
    expect(inQuery.code).toBe(5)
    expect(inQuery.stderr).toMatch(/^durably: postgres:\/\/someone@127\.0\.0\.1:1\/nowhere \(schema durably\): /)
    expect(inQuery.stdout + inQuery.stderr).not.toContain(secret)
  })

  it("reports a schema that was never migrated with exit code 5 and the command that migrates it", async () => {
    const never = freshSchema("never")
    const ran = await durably(["workflows", "list", "--url", url, "--schema", never])
    expect(ran.code).toBe(5)
    expect(ran.stdout).toBe("")
    expect(ran.stderr).toMatch(
      new RegExp(`^durably: .*\\(schema ${never}\\): .*\\(is the schema migrated\\? run: durably migrate\\)\\n$`),
    )
    // Nothing was created on the way.
    expect((await durably(["migrate", "--url", url, "--schema", never, "--json"])).stdout).toContain('"from":0')
    await dropSchema(url, never)
  })

  it.each([
    ["an unclosed IPv6 host", "postgres://someone:hunter2-Sup3r-secret@[::1/db"],
    ["a bad percent escape", "postgres://someone:%E0%A4%Ahunter2-Sup3r-secret@localhost/db"],
    ["a port that is not a number", "postgres://someone:hunter2-Sup3r-secret@localhost:port/db"],
  ])("refuses a malformed --url (%s) with one usage line that never shows the password", async (_label, bad) => {
    for (const args of [
      ["migrate", "--url", bad],
      ["workflows", "list", "--url", bad],
    ]) {
      const ran = await durably(args, noDb)
      expect(ran.code).toBe(2)
      expect(ran.stdout + ran.stderr).not.toContain("hunter2-Sup3r-secret")
      expect(ran.stderr).toMatch(/^durably: .*url/)
      expect(ran.stderr.trimEnd().split("\n")).toHaveLength(1)
    }
  })
})
