import { afterAll, describe, it } from "vitest"
import { storeContract } from "@durably/core/testing"
import { postgresStore } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"

const url = await databaseUrl()
const schema = freshSchema("contract")
afterAll(() => dropSchema(url, schema))

storeContract({
  name: "postgres",
  makeStore: () => postgresStore({ url, schema, max: 4, pollInterval: 100 }),
  reopen: () => postgresStore({ url, schema, max: 4, pollInterval: 100 }),
  describe,
  it,
})
