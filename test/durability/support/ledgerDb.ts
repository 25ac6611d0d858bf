/**
 * The setup every ledger-based durability test file shares: a fresh Durably schema and a ledger table on
 * the test server before the tests, and afterwards the worker processes killed and everything dropped.
 */
import { afterAll, beforeAll } from "vitest"
import { databaseUrl, dropSchema, freshSchema } from "../../../packages/postgres/test/pg.ts"
import { connect, createLedger, type Sql } from "./db.ts"

export interface LedgerDb {
  url: string
  schema: string
  sql: Sql
  ledger: string
}

/** Registers the hooks; the returned object is filled in before the first test runs. */
export const useLedgerDb = (prefix: string, killProcesses: () => Promise<void>): LedgerDb => {
  const db = {} as LedgerDb
  beforeAll(async () => {
    db.url = await databaseUrl()
    db.schema = freshSchema(prefix)
    db.sql = connect(db.url)
    db.ledger = await createLedger(db.sql, db.schema)
  })
  afterAll(async () => {
    await killProcesses()
    await db.sql?.end({ timeout: 1 })
    if (db.url && db.schema) await dropSchema(db.url, db.schema)
  })
  return db
}
