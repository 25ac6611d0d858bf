/**
 * Queues: Durably's durable queue against graphile-worker's plain jobs, on the same server in the same run,
 * in interleaved rounds (the order alternating):
 *
 * - enqueue one per call, each awaited: `durably.enqueue` vs `addJob`;
 * - enqueue in batches of 100: `durably.enqueueMany` vs `addJobs`;
 * - drain a pre-filled queue at concurrency 100: one-step durable workflows (`workerConcurrency: 100`, the
 *   per-process limit, as graphile's `concurrency` is per runner) vs no-op jobs, timed from the worker's
 *   launch until the last one finished (Durably: SUCCESS; graphile: its row deleted).
 *
 * The embedded store (PGlite) drains too. graphile-worker cannot run there, so its reference is the floor of
 * one durable job on that database: an autocommitted INSERT per job, on the same PGlite (see
 * ./queue/durably.ts); the server's graphile figure is printed beside it for context only.
 *
 * DBOS Transact's queue is measured in the same rounds (enqueue one per call with `DBOS.startWorkflow` on
 * a queue, and the drain with its default polling), each time in a child process on fresh system databases
 * (./dbos/queue.ts); its rows put Durably against it: the issue's goal is a drain ≥ 10× DBOS's default.
 *
 * Fairness: both sides keep their defaults (pool of 10 each, default polling, NOTIFY as each has it), except
 * the concurrency; synchronous_commit is checked and printed; payloads are `{ i }` on both sides; every
 * measurement has a schema (or directory) of its own, dropped at the end. Details in ./queue/graphile.ts
 * and ./queue/durably.ts.
 */
import { guarded, median, type BenchEnv, type Row, type Scenario, type Series, type Spread } from "../harness.ts"
import { measureDurably, measureEmbedded, type EmbeddedMeasure } from "./queue/durably.ts"
import { describeWaits, type Waits } from "./scaling/support.ts"
import { measureGraphile, type QueueMeasure } from "./queue/graphile.ts"
import { liveRows } from "./queue/liveRows.ts"
import { measureDbosQueue, dbosVersion, type DbosQueueMeasure } from "./dbos/parent.ts"

const name = "queue"

interface Sizes {
  readonly rounds: number
  /** Workflows / jobs drained per round on the server. */
  readonly jobs: number
  /** Drained per round on the embedded store. */
  readonly embeddedJobs: number
  readonly concurrency: number
  readonly enqueueCount: number
  readonly batchSize: number
}

const sizes = (quick: boolean): Sizes =>
  quick
    ? { rounds: 1, jobs: 300, embeddedJobs: 300, concurrency: 100, enqueueCount: 200, batchSize: 100 }
    : { rounds: 2, jobs: 10_000, embeddedJobs: 2_000, concurrency: 100, enqueueCount: 2_000, batchSize: 100 }

const sum = (parts: ReadonlyArray<Series>): Series => {
  const ops = parts.reduce((a, s) => a + s.ops, 0)
  const totalMs = parts.reduce((a, s) => a + s.totalMs, 0)
  return { label: parts[0]!.label, ops, totalMs, perOpMs: totalMs / ops }
}

const spread = (xs: ReadonlyArray<number>): Spread => ({
  min: Math.min(...xs),
  median: median(xs),
  max: Math.max(...xs),
})

const perSecond = (s: Series) => 1000 / s.perOpMs
const rate = (s: Series) => `${perSecond(s).toFixed(0)}/s`

/** One row from the rounds' series of the subject and the reference. */
const row = (
  scenario: string,
  store: string,
  measured: ReadonlyArray<Series>,
  reference: ReadonlyArray<Series>,
  details: Record<string, unknown>,
  notes: ReadonlyArray<string>,
): Row => {
  const m = sum(measured)
  const r = sum(reference)
  return {
    scenario,
    store,
    status: "ok",
    measured: m,
    reference: r,
    ratio: m.perOpMs / r.perOpMs,
    roundRatios: spread(measured.map((s, i) => s.perOpMs / reference[i]!.perOpMs)),
    details,
    notes,
  }
}

const serverRows = async (env: BenchEnv, url: string, size: Sizes): Promise<Row[]> => {
  const durably: QueueMeasure[] = []
  const graphile: QueueMeasure[] = []
  const options = { ...size, log: env.log }
  // DBOS Transact in the same rounds (./dbos/queue.ts); its failure costs only its own rows.
  const dbos: DbosQueueMeasure[] = []
  let dbosFailure: string | undefined
  const measureDbos = async () => {
    if (dbosFailure !== undefined) return
    try {
      dbos.push(await measureDbosQueue(url, options))
    } catch (e) {
      dbosFailure = e instanceof Error ? e.message : String(e)
      env.log(`  DBOS FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    }
  }
  for (let round = 0; round < size.rounds; round++) {
    env.log(` round ${round + 1} of ${size.rounds}`)
    if (round % 2 === 0) {
      durably.push(await measureDurably(url, options))
      graphile.push(await measureGraphile(url, options))
      await measureDbos()
    } else {
      await measureDbos()
      graphile.push(await measureGraphile(url, options))
      durably.push(await measureDurably(url, options))
    }
  }
  const pick = (ms: ReadonlyArray<QueueMeasure>, k: "enqueueOne" | "enqueueBatch" | "drain") => ms.map((m) => m[k])
  const details = (k: string) => ({
    rounds: size.rounds,
    sizes: size,
    durably: durably.map((m) => ({ ...m.details, series: m[k as "drain"] })),
    graphile: graphile.map((m) => ({ ...m.details, series: m[k as "drain"] })),
  })
  const store = "postgres (server)"
  const settings = `synchronous_commit = ${String(durably[0]?.details["synchronousCommit"])} (graphile saw ${String(graphile[0]?.details["synchronousCommit"])}), fsync = ${String(durably[0]?.details["fsync"])}`

  const drainD = sum(pick(durably, "drain"))
  const drainG = sum(pick(graphile, "drain"))
  const throughput = perSecond(drainD) / perSecond(drainG)
  const perRound = durably.map(
    (m, i) =>
      `${rate(m.drain)} vs ${rate(graphile[i]!.drain)} (${(perSecond(m.drain) / perSecond(graphile[i]!.drain)).toFixed(2)}×)`,
  )
  const drainDetails = durably.map((m) => m.details["drain"] as { launchMs: number; waits: Waits })
  const launchMs = drainDetails.map((d) => d.launchMs)
  const waits = drainDetails.map((d) => describeWaits(d.waits, 3))
  const notifyBound = drainDetails.some((d) => {
    const total = Object.values(d.waits.seen).reduce((a, n) => a + n, 0)
    return total > 0 && (d.waits.seen["Lock:object · completeWorkflow"] ?? 0) / total > 0.3
  })
  const dbosRows: Row[] =
    dbosFailure !== undefined
      ? [{ scenario: `queue vs DBOS ${dbosVersion()}`, store, status: "failed", note: dbosFailure }]
      : (() => {
          const enqueueD = sum(pick(durably, "enqueueOne"))
          const enqueueX = sum(dbos.map((m) => m.enqueueOne))
          const drainX = sum(dbos.map((m) => m.drain))
          const overDbos = perSecond(drainD) / perSecond(drainX)
          const dbosDetails = (k: "enqueueOne" | "drain") => ({
            rounds: size.rounds,
            sizes: size,
            durably: durably.map((m) => ({ ...m.details, series: m[k] })),
            dbos: dbos.map((m) => ({ ...m.details, series: m[k] })),
          })
          const dbosDrain = dbos.map(
            (m) => m.details["drain"] as { launchMs: number; statementsPerWorkflowText: string },
          )
          return [
            row(
              `queue enqueue, one per call, vs DBOS ${dbosVersion()}`,
              store,
              pick(durably, "enqueueOne"),
              dbos.map((m) => m.enqueueOne),
              dbosDetails("enqueueOne"),
              [
                `durably.enqueue ${enqueueD.perOpMs.toFixed(3)} ms, DBOS.startWorkflow on a queue ${enqueueX.perOpMs.toFixed(3)} ms per workflow (${rate(enqueueD)} vs ${rate(enqueueX)}), ${size.enqueueCount} per round, each awaited, nothing serving the queue`,
              ],
            ),
            row(
              `queue drain, concurrency ${size.concurrency}, vs DBOS ${dbosVersion()}`,
              store,
              pick(durably, "drain"),
              dbos.map((m) => m.drain),
              { ...dbosDetails("drain"), throughputRatio: overDbos },
              [
                `drain of ${size.jobs} pre-enqueued per round: durably ${rate(drainD)}, DBOS ${rate(drainX)} (one-step workflows, workerConcurrency ${size.concurrency}, DBOS's default polling: a poll at most once a second from 1 s after launch); graphile-worker ${rate(drainG)}`,
                `throughput durably / DBOS: ${overDbos.toFixed(2)}× (goal ≥ 10×: ${overDbos >= 10 ? "met" : "NOT met"}); per round: ${durably.map((m, i) => `${rate(m.drain)} vs ${rate(dbos[i]!.drain)} (${(perSecond(m.drain) / perSecond(dbos[i]!.drain)).toFixed(2)}×)`).join("; ")}`,
                `DBOS worker launch + registerQueue (inside the timed drain): ${dbosDrain.map((d) => `${d.launchMs.toFixed(0)} ms`).join(", ")}`,
                `DBOS statements per drained workflow (count × mean ms): ${dbosDrain[0]?.statementsPerWorkflowText ?? "-"}`,
              ],
            ),
          ]
        })()
  return [
    row(
      "queue enqueue, one per call",
      store,
      pick(durably, "enqueueOne"),
      pick(graphile, "enqueueOne"),
      details("enqueueOne"),
      [
        `durably.enqueue ${sum(pick(durably, "enqueueOne")).perOpMs.toFixed(3)} ms, addJob ${sum(pick(graphile, "enqueueOne")).perOpMs.toFixed(3)} ms per job, ${size.enqueueCount} per round, each awaited; ${settings}`,
      ],
    ),
    row(
      `queue enqueue, batches of ${size.batchSize}`,
      store,
      pick(durably, "enqueueBatch"),
      pick(graphile, "enqueueBatch"),
      details("enqueueBatch"),
      [
        `durably.enqueueMany ${sum(pick(durably, "enqueueBatch")).perOpMs.toFixed(4)} ms, addJobs ${sum(pick(graphile, "enqueueBatch")).perOpMs.toFixed(4)} ms per job (${rate(sum(pick(durably, "enqueueBatch")))} vs ${rate(sum(pick(graphile, "enqueueBatch")))})`,
      ],
    ),
    row(
      `queue drain, concurrency ${size.concurrency}`,
      store,
      pick(durably, "drain"),
      pick(graphile, "drain"),
      { ...details("drain"), throughputRatio: throughput },
      [
        `drain of ${size.jobs} pre-enqueued per round: durably ${rate(drainD)} (one-step workflows, workerConcurrency ${size.concurrency}), graphile-worker ${rate(drainG)} (no-op jobs, concurrency ${size.concurrency})`,
        `throughput durably / graphile: ${throughput.toFixed(2)}× (goal ≥ 1×); per round: ${perRound.join("; ")}`,
        `durably worker launch (inside the timed drain): ${launchMs.map((ms) => `${ms.toFixed(0)} ms`).join(", ")}`,
        `durably drain, where the server's backends were (pg_stat_activity, 10 samples/s): ${waits.join(" | ")}`,
        ...(notifyBound
          ? [
              'Lock:object on completeWorkflow: the lock on "database 0" that a transaction which sent NOTIFY takes in PreCommit_Notify and holds past its commit\'s WAL flush; NOTIFYing commits run one at a time, cluster-wide (every other NOTIFY on the server competes), with no group commit',
            ]
          : []),
      ],
    ),
    ...dbosRows,
  ]
}

const embeddedRow = async (env: BenchEnv, size: Sizes, graphileDrain: Series | undefined): Promise<Row> => {
  const measured: EmbeddedMeasure[] = []
  for (let round = 0; round < size.rounds; round++)
    measured.push(
      await measureEmbedded({
        jobs: size.embeddedJobs,
        concurrency: size.concurrency,
        batchSize: size.batchSize,
        log: env.log,
      }),
    )
  const drain = sum(measured.map((m) => m.drain))
  const reference = sum(measured.map((m) => m.reference))
  return row(
    `queue drain, concurrency ${size.concurrency}`,
    "embedded (PGlite)",
    measured.map((m) => m.drain),
    measured.map((m) => m.reference),
    { rounds: size.rounds, sizes: size, measured: measured.map((m) => m.details) },
    [
      `drain of ${size.embeddedJobs} pre-enqueued per round: ${rate(drain)}; one INSERT per job on the same PGlite: ${rate(reference)} (${(drain.perOpMs / reference.perOpMs).toFixed(1)} INSERTs' time per workflow; a workflow writes at least 3 times: claim, checkpoint, completion)`,
      graphileDrain
        ? `for context only (another database, not comparable): graphile-worker on the server drained ${rate(graphileDrain)}`
        : "graphile-worker on the server: not measured in this run",
    ],
  )
}

export const queue: Scenario = {
  name,
  description:
    "enqueue one by one and in batches, and drain at concurrency 100: durable one-step workflows against graphile-worker plain jobs on the same server",
  run: async (env) => {
    const size = sizes(env.quick)
    const rows: Row[] = []
    env.log(`${name}, postgres server store (against graphile-worker):`)
    const server = env.serverUrl
    if (!server) {
      env.log(`  skipped: ${env.serverNote ?? "no server"}`)
      for (const scenario of [
        "queue enqueue, one per call",
        `queue enqueue, batches of ${size.batchSize}`,
        `queue drain, concurrency ${size.concurrency}`,
        `queue enqueue, one per call, vs DBOS ${dbosVersion()}`,
        `queue drain, concurrency ${size.concurrency}, vs DBOS ${dbosVersion()}`,
        `queue drain while enqueuing, concurrency ${size.concurrency}`,
        `queue drain while enqueuing, every result awaited, concurrency ${size.concurrency}`,
      ])
        rows.push({ scenario, store: "postgres (server)", status: "skipped", note: env.serverNote ?? "" })
    } else {
      try {
        rows.push(...(await serverRows(env, server, size)))
        env.log(`${name}, drain while enqueuing (against graphile-worker the same way):`)
        rows.push(...(await liveRows(env, server, size)))
      } catch (e) {
        env.log(`  FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
        rows.push({
          scenario: name,
          store: "postgres (server)",
          status: "failed",
          note: e instanceof Error ? e.message : String(e),
        })
      }
    }
    const graphileDrain = rows.find((r) => r.status === "ok" && r.scenario.startsWith("queue drain"))
    env.log(`${name}, embedded store (against an INSERT per job on the same PGlite):`)
    rows.push(
      await guarded(`queue drain, concurrency ${size.concurrency}`, "embedded (PGlite)", env, () =>
        embeddedRow(env, size, graphileDrain?.status === "ok" ? graphileDrain.reference : undefined),
      ),
    )
    return rows
  },
}
