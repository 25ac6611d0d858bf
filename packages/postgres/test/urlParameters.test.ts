/**
 * A connection URL whose user, password, database, host or port sit in the query string, as libpq (psql)
 * accepts them: postgres.js alone sends them to the server as settings, which refuses `password`.
 */
import { afterAll, describe, expect, it } from "vitest"
import { Durably, defineWorkflow } from "@durably/core"
import { postgresStore } from "../src/index.ts"
import { libpqQueryParameters } from "../src/urlParameters.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"

const url = await databaseUrl()
const schema = freshSchema("urlq")
afterAll(() => dropSchema(url, schema))

describe("libpq's connection parameters in a URL's query", () => {
  it("become postgres.js options; the other parameters stay in the URL", () => {
    expect(libpqQueryParameters("postgres://h:1/db?user=app&password=s%20ecret&sslmode=disable&port=6543")).toEqual({
      url: "postgres://h:1/db?sslmode=disable",
      options: { user: "app", pass: "s ecret", port: 6543 },
    })
    expect(libpqQueryParameters("postgres://h/db?dbname=other&host=elsewhere")).toEqual({
      url: "postgres://h/db",
      options: { database: "other", host: "elsewhere" },
    })
    expect(libpqQueryParameters("postgres://u:p@h/db")).toEqual({ url: "postgres://u:p@h/db", options: {} })
  })

  it("connect and run a workflow when user, password and database come in the query (psql's form)", async () => {
    const u = new URL(url)
    const query = new URLSearchParams({ user: decodeURIComponent(u.username), dbname: u.pathname.slice(1) })
    // The password the server wants, or any (a trust-auth server ignores it): either way it must not be sent
    // to the server as a setting.
    query.set("password", u.password ? decodeURIComponent(u.password) : "not-needed")
    const inQuery = `postgres://${u.host}/?${query.toString()}`
    const greet = defineWorkflow("url-greet", async (ctx, name: string) => ctx.step("greet", () => `hi ${name}`))
    const durably = await Durably.launch({
      store: postgresStore({ url: inQuery, schema }),
      workflows: [greet],
      logger: false,
    })
    try {
      expect(await durably.run(greet, "psql")).toBe("hi psql")
    } finally {
      await durably.shutdown()
    }
  })
})
