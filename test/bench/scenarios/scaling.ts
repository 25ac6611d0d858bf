/**
 * Scaling out: the drain throughput of `jobs` pre-enqueued one-step workflows with 1, 2 and 4 worker
 * processes on one database, each process serving the queue with `workerConcurrency: 100` (a per-process
 * limit: total concurrency is 100 × processes, as with more machines). The reference of each row is the
 * single process, measured in the same rounds; the order of the drains alternates per round
 * (1, 2, 4, then 4, 2, 1), so drift falls on all. Notes say the curve, the CPU of the machine (2 cores:
 * workers, Postgres and this process share them) and where the server's backends wait. Details in
 * ./scaling/measure.ts.
 */
import { median, type BenchEnv, type Row, type Scenario, type Series } from "../harness.ts"
import { measureDrain, type DrainMeasure } from "./scaling/measure.ts"
import { describeWaits, fmtCores, type WalUse } from "./scaling/support.ts"

const name = "scaling"
const COUNTS = [1, 2, 4] as const

const sizes = (quick: boolean) =>
  quick ? { rounds: 1, jobs: 300, workerConcurrency: 100 } : { rounds: 2, jobs: 10_000, workerConcurrency: 100 }

const sum = (parts: ReadonlyArray<Series>): Series => {
  const ops = parts.reduce((a, s) => a + s.ops, 0)
  const totalMs = parts.reduce((a, s) => a + s.totalMs, 0)
  return { label: parts[0]!.label, ops, totalMs, perOpMs: totalMs / ops }
}

const rate = (s: Series) => 1000 / s.perOpMs

const describe = (count: number, ms: ReadonlyArray<DrainMeasure>): string => {
  const avg = (f: (m: DrainMeasure) => number | undefined) => {
    const xs = ms.map(f).filter((x): x is number => x !== undefined)
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined
  }
  const workerCores = avg((m) => m.workers.reduce((a, w) => a + w.cpuMs, 0) / m.drain.totalMs)
  const elu = avg((m) => median(m.workers.map((w) => w.elu)))
  const launch = avg((m) => Math.max(...m.workers.map((w) => w.launchedMs)))
  const machine = avg((m) => m.cpu.machineCores)
  const postgres = avg((m) => m.cpu.postgresCores)
  const bench = avg((m) => m.cpu.benchCores)
  const others =
    machine === undefined || postgres === undefined || workerCores === undefined || bench === undefined
      ? undefined
      : machine - postgres - workerCores - bench
  const perSecond = (f: (w: WalUse) => number) => avg((m) => (m.wal ? (f(m.wal) / m.drain.totalMs) * 1000 : undefined))
  const syncs = perSecond((w) => w.syncs)
  const commits = perSecond((w) => w.commits)
  const flushes =
    syncs === undefined || commits === undefined
      ? ""
      : `; WAL flushes ${syncs.toFixed(0)}/s (server-wide), transactions ${commits.toFixed(0)}/s on this database (${(commits / rate(sum(ms.map((m) => m.drain)))).toFixed(2)} per workflow, ${syncs > 0 ? (commits / syncs).toFixed(1) : "-"} per flush)`
  return (
    `${count} process(es): ${rate(sum(ms.map((m) => m.drain))).toFixed(0)}/s; CPU (cores of 2): machine ${fmtCores(machine)} = ` +
    `postgres ${fmtCores(postgres)} (our backends ${fmtCores(avg((m) => m.cpu.backendCores))}) + workers ${fmtCores(workerCores)} (event loops ${((elu ?? 0) * 100).toFixed(0)}% busy) + ` +
    `bench ${fmtCores(bench)} + rest (kernel, other processes) ${fmtCores(others)}${flushes}; launches within ${launch?.toFixed(0) ?? "?"} ms; backends: ${ms.map((m) => describeWaits(m.waits, 3)).join(" | ")}`
  )
}

const rows = async (env: BenchEnv, url: string): Promise<Row[]> => {
  const size = sizes(env.quick)
  const measured = new Map<number, DrainMeasure[]>(COUNTS.map((c) => [c, []]))
  for (let round = 0; round < size.rounds; round++) {
    const order = round % 2 === 0 ? COUNTS : [...COUNTS].reverse()
    env.log(` round ${round + 1} of ${size.rounds}: ${order.join(", ")} process(es)`)
    for (const workers of order)
      measured.get(workers)!.push(
        await measureDrain(url, {
          jobs: size.jobs,
          workers,
          workerConcurrency: size.workerConcurrency,
          log: env.log,
        }),
      )
  }
  const one = measured.get(1)!
  const oneSeries = sum(one.map((m) => m.drain))
  const curve = COUNTS.map((c) => {
    const r = rate(sum(measured.get(c)!.map((m) => m.drain)))
    return `${c}: ${r.toFixed(0)}/s (${(r / rate(oneSeries)).toFixed(2)}×)`
  }).join(", ")
  return COUNTS.filter((c) => c !== 1).map((count): Row => {
    const ms = measured.get(count)!
    const m = sum(ms.map((x) => x.drain))
    const ratios = ms.map((x, k) => x.drain.perOpMs / one[k]!.drain.perOpMs)
    return {
      scenario: `scaling drain, ${count} processes`,
      store: "postgres (server)",
      status: "ok",
      measured: { ...m, label: `${count} worker processes × workerConcurrency ${size.workerConcurrency}` },
      reference: { ...oneSeries, label: `1 worker process × workerConcurrency ${size.workerConcurrency}` },
      ratio: m.perOpMs / oneSeries.perOpMs,
      roundRatios: { min: Math.min(...ratios), median: median(ratios), max: Math.max(...ratios) },
      details: {
        sizes: size,
        concurrency: "workerConcurrency per process (total = processes × workerConcurrency)",
        measured: ms.map((x) => x.details),
        reference: one.map((x) => x.details),
      },
      notes: [
        `${size.jobs} pre-enqueued one-step workflows per drain, ${size.rounds} round(s); speed-up over one process ${(oneSeries.perOpMs / m.perOpMs).toFixed(2)}×; the curve: ${curve}`,
        describe(count, ms),
        describe(1, one),
      ],
    }
  })
}

export const scaling: Scenario = {
  name,
  description:
    "drain throughput of 10,000 queued one-step workflows with 1, 2 and 4 worker processes (workerConcurrency 100 each) on one database, against one process",
  run: async (env) => {
    const server = env.serverUrl
    if (!server) {
      env.log(`  skipped: ${env.serverNote ?? "no server"}`)
      return COUNTS.filter((c) => c !== 1).map((c): Row => ({
        scenario: `scaling drain, ${c} processes`,
        store: "postgres (server)",
        status: "skipped",
        note: env.serverNote ?? "",
      }))
    }
    try {
      return await rows(env, server)
    } catch (e) {
      env.log(`  FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
      return [
        {
          scenario: name,
          store: "postgres (server)",
          status: "failed",
          note: e instanceof Error ? e.message : String(e),
        },
      ]
    }
  },
}
