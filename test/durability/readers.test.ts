/**
 * Readers in another process: a worker process runs the publisher workflow (support/publisher.ts), which
 * sets events and writes a stream from workflow code and from step bodies — one step whose first attempt
 * fails after writing, one whose process is SIGKILLed after writing — paced by messages from this test.
 * This test process reads with `durably.getEvent` and `durably.readStream` on its own engine and store on
 * the same database, so every wake-up crosses processes through Postgres.
 *
 * The readers see every event value they wait for (also across the writer's death and restart), and every
 * stream value in order, exactly once: only the successful attempts' values, none of the failed or killed
 * ones; the iteration ends when the stream is closed, while the workflow is still running. A reader that
 * starts late, or from an offset, sees the same sequence.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { databaseUrl, dropSchema, freshSchema } from "../../packages/postgres/test/pg.ts"
import { connect, readWorkflows, type Sql } from "./support/db.ts"
import { killAllFixtures, spawnFixture } from "./support/fixtureProcess.ts"
import {
  expectedStream,
  STREAM,
  type PublisherEvents,
  type PublisherOutput,
  type PublisherWorkerConfig,
} from "./support/publisher.ts"
import { waitFor } from "./support/wait.ts"

const VALUES = Number(process.env["DURABILITY_STREAM_VALUES"] ?? 20)

describe("readers in another process", () => {
  let url: string
  let schema: string
  let sql: Sql
  let client: Durably | undefined

  beforeAll(async () => {
    url = await databaseUrl()
    schema = freshSchema("dur_readers")
    sql = connect(url)
  })

  afterAll(async () => {
    await killAllFixtures()
    await client?.shutdown()
    await sql?.end({ timeout: 1 })
    if (url && schema) await dropSchema(url, schema)
  })

  it("getEvent and readStream in the test process see every value in order, only the successful attempts' ones", async () => {
    const id = "publisher-1"
    const config = (killInCrashy: boolean): PublisherWorkerConfig => ({
      url,
      schema,
      executorId: "publisher-worker",
      id,
      input: { values: VALUES },
      killInCrashy,
    })
    const first = spawnFixture<PublisherEvents>("publisherWorker.ts", config(true), "publisher (killed in crashy)")
    await first.waitForEvent("STARTED")

    const reader = await Durably.launch({
      store: postgresStore({ url, schema, max: 4 }),
      workflows: [],
      executorId: "reader",
      heartbeat: false,
      recover: false,
      logger: false,
    })
    client = reader
    const read = (from = 0) => {
      const seen: string[] = []
      const done = (async () => {
        for await (const v of reader.readStream<string>(id, STREAM, { from })) seen.push(v)
        return seen
      })()
      done.catch(() => undefined)
      return { seen, done }
    }
    const early = read()
    const sees = (r: { seen: string[] }, value: string) =>
      waitFor(`the reader to see ${value}`, () => r.seen.includes(value), {
        intervalMs: 5,
        timeoutMs: 15_000,
        detail: () => `it has ${JSON.stringify(r.seen)}`,
      })

    expect(await reader.getEvent(id, "started")).toBe(true)
    await sees(early, "wf-0")
    // The crashy step's value is waited for across the writer's death.
    const crashy = reader.getEvent<number>(id, "crashy")
    await reader.send(id, "go", 0)
    expect(await reader.getEvent(id, "flaky")).toBe(2)
    const fault = await first.waitForEvent("FAULT", undefined, { timeoutMs: 15_000 })
    expect((await first.exit).signal).toBe("SIGKILL")
    // Nothing of the killed attempt, nor of the failed one, was published.
    await sees(early, "flaky-a2-2")
    expect(early.seen).toEqual(["wf-0", "flaky-a2-0", "flaky-a2-1", "flaky-a2-2"])

    const second = spawnFixture<PublisherEvents>("publisherWorker.ts", config(false), "publisher")
    const crashyPid = await crashy
    expect(crashyPid).toBe(second.pid)
    expect(crashyPid).not.toBe(fault.pid)
    const expected = expectedStream(VALUES, crashyPid!)
    await sees(early, `crashy-${second.pid}-2`)
    // A reader that starts now reads what is there, then waits with the first.
    const late = read()

    for (let k = 1; k <= VALUES; k++) {
      const event = reader.getEvent<number>(id, `e${k}`) // waiting before it is set
      await reader.send(id, "go", k)
      expect(await event).toBe(k)
      await sees(early, `wf-${k}`)
    }
    expect(await early.done).toEqual(expected)
    // It ended because the stream closed: the workflow is still waiting for "finish".
    expect((await readWorkflows(sql, schema)).find((w) => w.id === id)?.status).toBe("PENDING")
    expect(await late.done).toEqual(expected)
    expect(await read(4).done).toEqual(expected.slice(4))
    expect(await read(expected.length).done).toEqual([])
    expect(await reader.getEvent(id, "phase")).toBe("closed") // last write wins
    expect(await reader.getEvent(id, "never-set", { timeout: 200 })).toBeUndefined()

    // The store holds exactly what the readers saw.
    const stored = await sql.unsafe(
      `SELECT value FROM "${schema}".stream_values WHERE workflow_id = $1 AND key = $2 ORDER BY stream_offset`,
      [id, STREAM],
    )
    expect(stored.map((r) => JSON.parse(r["value"] as string) as string)).toEqual(expected)

    await reader.send(id, "finish", true)
    const output = await reader.handle<PublisherOutput>(id).result()
    expect(output).toEqual({ crashyPid: second.pid, flakyAttempt: 2 })
    // The workflow ended without setting it: a reader without a timeout does not wait.
    expect(await reader.getEvent(id, "never-set")).toBeUndefined()
    expect((await second.stop()).code, second.tail()).toBe(0)
  }, 60_000)
})
