/**
 * Latency on the embedded store (PGlite in a directory). One process owns the directory, so the sender and
 * the receiver are one engine and wake-ups are in-process: send→recv is `durably.send` to a `pinger`
 * workflow of the same engine, waiting in `ctx.recv` (the send waits until the recv has recorded its pending
 * checkpoint); result() is `start` → `handle.result()` of a one-step workflow. Reference, sampled in the same
 * rounds: one INSERT on a PGlite opened the same way in the same process (as in the per-step rows).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { PGlite } from "@electric-sql/pglite"
import { Durably, uuidv7 } from "@durably/core"
import { embeddedStore } from "@durably/postgres/embedded"
import type { BenchEnv, Row } from "../../harness.ts"
import { payload, quietLogger } from "../perStep/common.ts"
import {
  goalNote,
  oneStep,
  percentile,
  makePinger,
  percentileRows,
  pollUntil,
  recvStepOf,
  sampleRounds,
  sizes,
  spread,
  wallNow,
  within,
} from "./common.ts"

export const embeddedRows = async (
  env: BenchEnv,
  guard: (store: string, scenario: string, run: () => Promise<Row[]>) => Promise<Row[]>,
): Promise<Row[]> => {
  const size = sizes(env.quick)
  const storeName = "embedded (PGlite)"
  const dir = mkdtempSync(join(tmpdir(), "durably-bench-latency-"))
  // The workflow runs in this process: its step tells the bench directly, so that no reader's query shares
  // the store's one connection with the wake-up being timed.
  const seen = new Map<number, (at: number) => void>()
  const pinger = makePinger("bench-pinger-local", (i, at) => seen.get(i)?.(at))
  let reference: PGlite | undefined
  let durably: Durably | undefined
  try {
    const store = embeddedStore({ dir: join(dir, "store"), schema: "durably_bench" })
    durably = await Durably.launch({
      store,
      workflows: [pinger, oneStep],
      executorId: `bench-${uuidv7()}`,
      appVersion: "bench",
      logger: quietLogger,
    })
    mkdirSync(join(dir, "reference"))
    const db = await PGlite.create(join(dir, "reference", "pgdata"))
    reference = db
    await db.exec(`CREATE TABLE insert_ref (id text PRIMARY KEY, payload text NOT NULL)`)
    const insert = async () => {
      const start = performance.now()
      await db.query(`INSERT INTO insert_ref (id, payload) VALUES ($1, $2)`, [uuidv7(), payload])
      return performance.now() - start
    }
    const engine = durably
    const rows: Row[] = []

    rows.push(
      ...(await guard(storeName, "send→recv latency", async () => {
        const count = size.warmup + size.rounds * size.perRound
        const handle = await engine.start(pinger, count, { id: `bench-pinger-${uuidv7()}` })
        const waiting = (i: number) =>
          pollUntil(30_000, `recv #${i} of ${handle.id} to wait`, async () => {
            const cps = await Effect.runPromise(store.loadCheckpoints(handle.id))
            const state = cps.find((c) => c.stepId === recvStepOf(i))?.state
            if (state === "done") throw new Error(`recv #${i} completed before its message was sent`)
            return state === "pending" || `${state ?? "not reached"}`
          })
        const sendMs: number[] = []
        const sampled = await sampleRounds({
          sizes: size,
          subject: async (i) => {
            await waiting(i)
            const had = new Promise<number>((resolve) => seen.set(i, resolve))
            const t0 = wallNow()
            const sendStart = performance.now()
            await engine.send(handle.id, "ping", i)
            sendMs.push(performance.now() - sendStart)
            return (await within(30_000, `recv #${i} of ${handle.id} to wake`, had)) - t0
          },
          reference: insert,
        })
        await within(30_000, `the end of ${handle.id}`, handle.result())
        const all = sampled.subject.flat()
        return percentileRows({
          scenario: "send→recv latency",
          store: storeName,
          subjectLabel: "durably.send → workflow code has it",
          referenceLabel: "INSERT (PGlite)",
          sampled,
          details: { wakeups: "in-process", samples: all.length },
          notes: [
            `send→recv (one engine, in-process wake-up): ${spread(all)}`,
            `the durably.send call itself: p50 ${percentile(sendMs, 0.5).toFixed(2)} ms; INSERT: ${spread(sampled.reference.flat())}`,
            goalNote("send→recv", all),
          ],
        })
      })),
    )

    rows.push(
      ...(await guard(storeName, "result() latency", async () => {
        const run = uuidv7()
        const sampled = await sampleRounds({
          sizes: size,
          subject: async (i) => {
            const t0 = performance.now()
            const handle = await engine.start(oneStep, i, { id: `one-${run}-${i}` })
            await within(30_000, `result() of ${handle.id}`, handle.result())
            return performance.now() - t0
          },
          reference: insert,
        })
        const all = sampled.subject.flat()
        return percentileRows({
          scenario: "result() latency",
          store: storeName,
          subjectLabel: "1-step: start → result() (same engine)",
          referenceLabel: "INSERT (PGlite)",
          sampled,
          details: { samples: all.length },
          notes: [
            `start → result(): ${spread(all)}; INSERT p50 ${percentile(sampled.reference.flat(), 0.5).toFixed(2)} ms`,
            goalNote("result()", all),
          ],
        })
      })),
    )
    return rows
  } finally {
    await durably?.shutdown().catch((e: unknown) => env.log(`  shutdown failed: ${String(e)}`))
    await reference?.close().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
}
