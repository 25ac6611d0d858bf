/**
 * Latency on the Postgres server store, every hop through the database:
 *
 * - send→recv: a `pinger` workflow runs in a second process (./receiver.ts) and waits in `ctx.recv`; this
 *   process sends with `durably.send` from a client engine on its own store. The sample is the wall time from
 *   just before the send to the instant the workflow's code has the message (a step right after the recv
 *   records it; both processes read the same system clock). The bench sends only once the recv has recorded
 *   its pending checkpoint, i.e. is waiting, so every sample is a wake-up by NOTIFY. Both stores keep their
 *   defaults: notifications on, fallback poll 1 s.
 * - result(): engine A starts a one-step workflow (and runs it); engine B, on another store, awaits
 *   `handle(id).result()`. The sample is from A's `start` call to B's result (B learns of the end by NOTIFY).
 *
 * Reference, sampled in the same rounds: one INSERT round trip (a row with a primary key) on the same server.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import postgres from "postgres"
import { Durably, uuidv7 } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { benchSchema, type BenchEnv, type Row } from "../../harness.ts"
import { payload, quietLogger } from "../perStep/common.ts"
import {
  goalNote,
  oneStep,
  percentile,
  percentileRows,
  pollUntil,
  recvStepOf,
  sampleRounds,
  sizes,
  spread,
  wallNow,
  within,
} from "./common.ts"
import type { ReceiverConfig } from "./receiver.ts"

type Sql = postgres.Sql<Record<string, postgres.PostgresType>>

const receiverScript = fileURLToPath(new URL("./receiver.ts", import.meta.url))
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The receiver process: its exit, and a wait for a line it prints. */
const startReceiver = (config: ReceiverConfig) => {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--conditions=@durably/source", receiverScript, JSON.stringify(config)],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_NO_WARNINGS: "1" } },
  )
  const lines: string[] = []
  let partial = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n")
    partial = parts.pop() ?? ""
    lines.push(...parts)
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const waitLine = async (prefix: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs
    let gone = false
    void exited.then(() => (gone = true))
    for (;;) {
      if (lines.some((l) => l.startsWith(prefix))) return
      if (gone) throw new Error(`the receiver process exited before ${prefix}: ${lines.join(" | ")}`)
      if (Date.now() > deadline) throw new Error(`the receiver process did not say ${prefix} in ${timeoutMs} ms`)
      await pause(10)
    }
  }
  return { child, waitLine, exited }
}

export const serverRows = async (
  env: BenchEnv,
  url: string,
  guard: (store: string, scenario: string, run: () => Promise<Row[]>) => Promise<Row[]>,
): Promise<Row[]> => {
  const size = sizes(env.quick)
  const schema = benchSchema()
  const store = "postgres (server)"
  const sql: Sql = postgres(url, { max: 2, prepare: true, onnotice: () => undefined, connect_timeout: 10 })
  const launched: Durably[] = []
  let receiver: ReturnType<typeof startReceiver> | undefined
  try {
    const setting = async (name: string) =>
      (await sql.unsafe<{ v: string }[]>(`SELECT current_setting($1) AS v`, [name]))[0]?.v ?? "?"
    const settings = { synchronousCommit: await setting("synchronous_commit"), fsync: await setting("fsync") }
    env.log(`  postgres: synchronous_commit = ${settings.synchronousCommit}, fsync = ${settings.fsync}`)
    // The client: sends, reads events and awaits results; no workflows run here, nothing is recovered.
    const client = await Durably.launch({
      store: postgresStore({ url, schema }),
      workflows: [oneStep],
      executorId: `bench-client-${uuidv7()}`,
      appVersion: "bench",
      heartbeat: false,
      recover: false,
      logger: quietLogger,
    })
    launched.push(client)
    await sql.unsafe(`CREATE TABLE "${schema}".latency_ref (id text PRIMARY KEY, payload text NOT NULL)`)
    const insertText = `INSERT INTO "${schema}".latency_ref (id, payload) VALUES ($1, $2)`
    const insert = async () => {
      const start = performance.now()
      await sql.unsafe(insertText, [uuidv7(), payload], { prepare: true })
      return performance.now() - start
    }
    const defaults = { notifications: true, pollIntervalMs: 1000, synchronousCommit: settings.synchronousCommit }
    const rows: Row[] = []

    rows.push(
      ...(await guard(store, "send→recv latency", async () => {
        const id = `bench-pinger-${uuidv7()}`
        const count = size.warmup + size.rounds * size.perRound
        receiver = startReceiver({ url, schema, id, count })
        await receiver.waitLine("READY", 60_000)
        env.log(`  send→recv: receiver process ${receiver.child.pid} is running workflow ${id}`)
        const waiting = (i: number) =>
          pollUntil(30_000, `recv #${i} of ${id} to wait`, async () => {
            const [row] = await sql.unsafe<{ state: string }[]>(
              `SELECT state FROM "${schema}".steps WHERE workflow_id = $1 AND step_id = $2`,
              [id, recvStepOf(i)],
            )
            if (row?.state === "done") throw new Error(`recv #${i} completed before its message was sent`)
            return row?.state === "pending" || `${row?.state ?? "not reached"}`
          })
        const sendMs: number[] = []
        const sampled = await sampleRounds({
          sizes: size,
          subject: async (i) => {
            await waiting(i)
            const t0 = wallNow()
            await client.send(id, "ping", i)
            sendMs.push(wallNow() - t0)
            const seenAt = await client.getEvent<number>(id, `seen-${i}`, { timeout: "30 seconds" })
            if (seenAt === undefined) throw new Error(`no seen-${i} event`)
            return seenAt - t0
          },
          reference: insert,
        })
        const all = sampled.subject.flat()
        const slow = all.filter((ms) => ms > 500).length
        return percentileRows({
          scenario: "send→recv latency",
          store,
          subjectLabel: "durably.send → workflow code has it",
          referenceLabel: "INSERT round trip",
          sampled,
          details: { ...defaults, receiver: "second process", samples: all.length, sendCallMs: spread(sendMs) },
          notes: [
            `send→recv: ${spread(all)}`,
            `the durably.send call itself (one statement): p50 ${percentile(sendMs, 0.5).toFixed(2)} ms; INSERT: ${spread(sampled.reference.flat())}`,
            `samples over 500 ms (woken by the fallback poll, not NOTIFY): ${slow} of ${all.length}`,
            goalNote("send→recv", all),
          ],
        })
      })),
    )

    rows.push(
      ...(await guard(store, "result() latency", async () => {
        // Engine A runs the workflows it starts; the client (engine B) only awaits their results.
        const starter = await Durably.launch({
          store: postgresStore({ url, schema }),
          workflows: [oneStep],
          executorId: `bench-starter-${uuidv7()}`,
          appVersion: "bench",
          logger: quietLogger,
        })
        launched.push(starter)
        const run = uuidv7()
        const localMs: number[] = []
        const sampled = await sampleRounds({
          sizes: size,
          subject: async (i) => {
            const t0 = performance.now()
            const handle = await starter.start(oneStep, i, { id: `one-${run}-${i}` })
            const local = handle.result().then(() => performance.now() - t0)
            const remote = await within(
              30_000,
              `result() of ${handle.id} on engine B`,
              client
                .handle<number>(handle.id)
                .result()
                .then(() => performance.now() - t0),
            )
            localMs.push(await within(30_000, `result() of ${handle.id} on engine A`, local))
            return remote
          },
          reference: insert,
        })
        const all = sampled.subject.flat()
        return percentileRows({
          scenario: "result() latency",
          store,
          subjectLabel: "1-step: start (engine A) → result() (engine B)",
          referenceLabel: "INSERT round trip",
          sampled,
          details: { ...defaults, awaitedFrom: "another engine and store, same process", samples: all.length },
          notes: [
            `start → result() on engine B: ${spread(all)}`,
            `the same workflows' result() on engine A, which ran them: ${spread(localMs)}`,
            `samples over 500 ms (woken by the fallback poll, not NOTIFY): ${all.filter((ms) => ms > 500).length} of ${all.length}`,
            goalNote("result()", all),
          ],
        })
      })),
    )
    return rows
  } finally {
    for (const d of launched.reverse())
      await d.shutdown().catch((e: unknown) => env.log(`  shutdown failed: ${String(e)}`))
    if (receiver) {
      const gone = receiver.child.exitCode !== null || receiver.child.signalCode !== null
      if (!gone) {
        // Done when every ping was sent; after a failure it may still wait: stop it.
        const timer = setTimeout(() => receiver?.child.kill("SIGKILL"), 10_000)
        await receiver.exited
        clearTimeout(timer)
      }
    }
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await sql.end({ timeout: 5 })
  }
}
