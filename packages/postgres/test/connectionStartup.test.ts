/**
 * A connection lost while the pool's first connection reads the server's array types. postgres.js fetches
 * them itself on a new connection from a promise nobody observes, so a reset at that moment (a failover,
 * `pg_terminate_backend`, a restart) was an unhandled rejection that kills a worker process. A TCP proxy
 * between the store and the server cuts the connection exactly when that query goes by; the store must
 * carry on (its operation retried) with nothing escaping, and arrays must still work both ways.
 */
import { createConnection, createServer, type AddressInfo, type Socket } from "node:net"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseArray, serializeArray } from "../src/arrayTypes.ts"
import { postgresStore } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"
import { run } from "./support.ts"

const url = await databaseUrl()
const schema = freshSchema("conn_startup")
const escaped: unknown[] = []
const onEscape = (e: unknown) => void escaped.push(e)

beforeAll(() => {
  process.on("uncaughtException", onEscape)
  process.on("unhandledRejection", onEscape)
})
afterAll(async () => {
  process.off("uncaughtException", onEscape)
  process.off("unhandledRejection", onEscape)
  await dropSchema(url, schema)
})

/** The backend pid in a server's startup answer (its BackendKeyData message), once it has arrived. */
const backendPid = (startup: Buffer): number | undefined => {
  for (let at = 0; at + 5 <= startup.length; at += 1 + startup.readInt32BE(at + 1))
    if (startup[at] === 0x4b && at + 9 <= startup.length) return startup.readInt32BE(at + 5)
  return undefined
}

/**
 * A proxy to the server. On the first `cuts` connections that send the array-type query, it holds that query
 * and has the server terminate the backend (`pg_terminate_backend`, as an admin or a failover would): the
 * client gets the server's FATAL error while the query is outstanding, then the connection closes.
 */
const terminatingProxy = async (cuts: number) => {
  const target = new URL(url)
  const admin = postgres(url, { max: 1, onnotice: () => undefined })
  const sockets = new Set<Socket>()
  let left = cuts
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname || "localhost", port: Number(target.port || 5432) })
    sockets.add(client).add(upstream)
    let startup = Buffer.alloc(0)
    let pid: number | undefined
    let held = false
    const close = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on("data", (chunk: Buffer) => {
      if (held) return
      if (left > 0 && pid !== undefined && chunk.includes("typcategory")) {
        left--
        held = true
        void admin`SELECT pg_terminate_backend(${pid})`.catch(close)
        return
      }
      upstream.write(chunk)
    })
    upstream.on("data", (chunk: Buffer) => {
      if (pid === undefined) pid = backendPid((startup = Buffer.concat([startup, chunk])))
      client.write(chunk)
    })
    client.on("close", close).on("error", close)
    upstream.on("close", close).on("error", close)
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const proxied = new URL(url)
  proxied.hostname = "127.0.0.1"
  proxied.port = String((server.address() as AddressInfo).port)
  return {
    url: proxied.toString(),
    cut: () => cuts - left,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
      await admin.end()
    },
  }
}

describe("the pool's first connection lost while it reads the array types", () => {
  it("is an ordinary, retried failure: nothing escapes, and the store works", async () => {
    const proxy = await terminatingProxy(2)
    const store = postgresStore({ url: proxy.url, schema, max: 4 })
    try {
      // The first operation migrates and reads the types; it fails with the cut connection, and is tried again
      // (as the engine retries a store call) until it gets through.
      let failures = 0
      for (;;)
        try {
          expect(await run(store.getWorkflow("none"))).toBeUndefined()
          break
        } catch (e) {
          if (++failures > 10) throw e
        }
      // Give a driver-side rejection time to surface as unhandled.
      await new Promise((r) => setTimeout(r, 200))
      expect(escaped).toEqual([])
      expect(proxy.cut()).toBeGreaterThan(0)
      // Arrays as parameters (a listing by ids and statuses) work once the types are read.
      expect(await run(store.listWorkflows({ status: ["PENDING", "ERROR"], limit: 5 }))).toEqual([])
    } finally {
      await run(store.close())
      await proxy.close()
    }
  }, 60_000)
})

describe("array parameters and results without the driver's type fetch", () => {
  const sql = postgres(url, { max: 1, onnotice: () => undefined })
  afterAll(() => sql.end())

  const texts = ["plain", 'a "quoted" one', "back\\slash", "comma, and } brace", "", "NULL", "x{y}"]

  it("a text array goes to the server and back unchanged, nulls included", async () => {
    const literal = serializeArray([...texts, null], undefined, 1009) as string
    const [row] = await sql.unsafe<Array<{ n: number; back: string }>>(
      "SELECT cardinality($1::text[]) AS n, $1::text[]::text AS back",
      [literal],
    )
    expect(row!.n).toBe(texts.length + 1)
    expect(parseArray(row!.back, undefined, 1009)).toEqual([...texts, null])
    // Element by element, as the server sees them.
    const each = await sql.unsafe<Array<{ v: string | null }>>("SELECT unnest($1::text[]) AS v", [literal])
    expect(each.map((r) => r.v)).toEqual([...texts, null])
  })

  it("nested and numeric arrays, and an empty one", async () => {
    const [row] = await sql.unsafe<Array<{ m: string; e: string }>>(
      "SELECT ARRAY[[1,2],[3,NULL]]::int[]::text AS m, '{}'::int[]::text AS e",
    )
    expect(parseArray(row!.m, Number, 1007)).toEqual([
      [1, 2],
      [3, null],
    ])
    expect(parseArray(row!.e, Number, 1007)).toEqual([])
    expect(serializeArray([[1, 2], [3]], String, 1007)).toBe('{{"1","2"},{"3"}}')
    expect(parseArray("[0:1]={7,8}", Number, 1007)).toEqual([7, 8])
  })
})
