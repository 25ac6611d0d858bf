import postgres from "postgres"
import { describe, expect, it } from "vitest"
import { StoreError } from "@durably/core"
import { failureKind } from "../src/index.ts"
import { toStoreError } from "../src/errors.ts"
import { databaseUrl } from "./pg.ts"

const url = await databaseUrl()

/** The error a real statement raises on this server. */
const raised = async (statement: string): Promise<unknown> => {
  const sql = postgres(url, { max: 1, onnotice: () => undefined })
  try {
    await sql.unsafe(statement)
    throw new Error("expected the statement to fail")
  } catch (e) {
    return e
  } finally {
    await sql.end({ timeout: 1 })
  }
}

describe("database errors become typed StoreErrors", () => {
  it("maps real SQLSTATEs and driver codes to kinds, and says which are worth retrying", async () => {
    const unique = await raised("CREATE TEMP TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1), (1)")
    expect(failureKind(unique)).toBe("unique-violation")
    expect(toStoreError("op", unique)).toMatchObject({ kind: "unique-violation", retryable: false })

    const serialization = await raised("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$")
    expect(toStoreError("op", serialization)).toMatchObject({ kind: "serialization", retryable: true })
    const deadlock = await raised("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$")
    expect(toStoreError("op", deadlock)).toMatchObject({ kind: "deadlock", retryable: true })
    const shutdown = await raised("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '57P01'; END $$")
    expect(toStoreError("op", shutdown)).toMatchObject({ kind: "shutdown", retryable: true })

    const refused = await (async () => {
      const sql = postgres("postgres://root:hunter2@127.0.0.1:1/test", { max: 1, connect_timeout: 2 })
      try {
        await sql`select 1`
      } catch (e) {
        return e
      } finally {
        await sql.end({ timeout: 1 })
      }
    })()
    const e = toStoreError("heartbeat", refused, "127.0.0.1:1/test")
    expect(e).toBeInstanceOf(StoreError)
    expect(e).toMatchObject({ kind: "connection", retryable: true })
    expect(e.message).toContain("cannot use Postgres at 127.0.0.1:1/test")
    expect(e.message).not.toContain("hunter2")

    // A value the database refuses: no retry can fix it.
    const invalid = await raised("SELECT 1/0")
    expect(toStoreError("op", invalid)).toMatchObject({ kind: "invalid-data", retryable: false })
    const other = await raised("SELECT * FROM no_such_table_here")
    expect(toStoreError("op", other)).toMatchObject({ kind: "other", retryable: false })
  })
})
