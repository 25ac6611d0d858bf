/**
 * Recovery: how fast a live executor takes over and finishes the PENDING workflows of one that died, against
 * the same worker running the same number of workflows from scratch, in the same run.
 *
 * A child process (executor A) starts `n` workflows; once every one has finished step "first" and is in its
 * second operation (half hang in a step body, half wait in `ctx.recv` for a message sent after the crash),
 * the bench SIGKILLs it. A fresh engine (executor B) is launched in the bench process; the time to its first
 * takeover (A's lease running out, and B's own grace period of one lease after its first heartbeat) is
 * reported apart from the drain, from that first takeover until none is PENDING. The reference is `n` fresh
 * workflows started and run to SUCCESS on an engine with the same settings. Details in ./recovery/measure.ts.
 *
 * Variants: the engine's default heartbeat (every 2 s, lease 10 s), which is what a user gets, and (full
 * run) a fast one (every 250 ms, lease 1.5 s), so that what a takeover costs per workflow shows apart from
 * the cadence of the rounds.
 */
import { guarded, median, type BenchEnv, type Row, type Scenario } from "../harness.ts"
import { describeWaits, fmtCores } from "./scaling/support.ts"
import {
  describeRounds,
  measureFresh,
  measureRecovery,
  type Heartbeat,
  type RecoveryOptions,
} from "./recovery/measure.ts"

const name = "recovery"

interface Variant {
  readonly label: string
  readonly heartbeat: Heartbeat
}

const variants = (quick: boolean): ReadonlyArray<Variant> =>
  quick
    ? [{ label: "fast heartbeat", heartbeat: { interval: 250, lease: 1_000 } }]
    : [
        { label: "default heartbeat", heartbeat: { interval: 2_000, lease: 10_000 } },
        { label: "fast heartbeat", heartbeat: { interval: 250, lease: 1_500 } },
      ]

const sizes = (quick: boolean) => (quick ? { n: 200, window: 100 } : { n: 10_000, window: 500 })

/** The most workflows one takeover claims (packages/core/src/engine/Engine.ts, `takeOver`). */
const TAKEOVER_BATCH = 500

const variantRow = async (env: BenchEnv, url: string, v: Variant, order: number): Promise<Row> => {
  const { n, window } = sizes(env.quick)
  const options: RecoveryOptions = { n, window, heartbeat: v.heartbeat, log: env.log }
  env.log(
    ` ${v.label} (every ${v.heartbeat.interval} ms, lease ${v.heartbeat.lease} ms), ${n} workflows, ${order % 2 === 0 ? "recovery first" : "reference first"}:`,
  )
  let recovered, fresh
  if (order % 2 === 0) {
    recovered = await measureRecovery(url, options)
    fresh = await measureFresh(url, options)
  } else {
    fresh = await measureFresh(url, options)
    recovered = await measureRecovery(url, options)
  }
  const ratio = recovered.drain.perOpMs / fresh.run.perOpMs
  const rate = (ms: number) => `${((n / ms) * 1000).toFixed(0)}/s`
  const roundBusy = recovered.rounds.map((r) => r.doneMs - r.firstMs)
  const busyShare = roundBusy.reduce((a, b) => a + b, 0) / (recovered.totalMs - recovered.firstTakeoverMs)
  const gaps = recovered.rounds.slice(1).map((r, k) => r.firstMs - recovered.rounds[k]!.firstMs)
  const overhead =
    gaps.length === 0
      ? ""
      : ` (a new round when the previous batch came back full, or at the next beat; median gap ${median(gaps).toFixed(0)} ms)`
  return {
    scenario: `recovery of ${n}, ${v.label}`,
    store: "postgres (server)",
    status: "ok",
    measured: recovered.drain,
    reference: fresh.run,
    ratio,
    roundRatios: { min: ratio, median: ratio, max: ratio },
    details: { variant: v, sizes: { n, window }, recovery: recovered.details, reference: fresh.details },
    notes: [
      `heartbeat every ${v.heartbeat.interval} ms, lease ${v.heartbeat.lease} ms; ${n} PENDING workflows of a SIGKILLed executor (half hung in a step body, half in ctx.recv with the message already sent)`,
      `time to first takeover: ${recovered.firstTakeoverMs.toFixed(0)} ms after the new engine's launch call (the dead lease ran out at ${recovered.leaseExpiredMs.toFixed(0)} ms; a new engine also waits one lease after its first heartbeat before it judges anyone dead, then looks on its next beat)`,
      `drain after the first takeover: ${recovered.drain.totalMs.toFixed(0)} ms, ${rate(recovered.drain.totalMs)}; launch to all SUCCESS ${recovered.totalMs.toFixed(0)} ms (${rate(recovered.totalMs)}); reference (fresh start→SUCCESS, same settings) ${fresh.run.totalMs.toFixed(0)} ms, ${rate(fresh.run.totalMs)}`,
      `takeover: batches of ≤ ${TAKEOVER_BATCH}, one after another while they come back full; ${describeRounds(recovered.rounds)}${overhead}; the rounds' own work is ${(busyShare * 100).toFixed(0)}% of the drain (median round ${median(roundBusy).toFixed(0)} ms)`,
      `CPU (cores, of 2) during the drain: machine ${fmtCores(recovered.cpu.machineCores)}, postgres ${fmtCores(recovered.cpu.postgresCores)} (our backends ${fmtCores(recovered.cpu.backendCores)}), bench process ${fmtCores(recovered.cpu.benchCores)}; reference: machine ${fmtCores(fresh.cpu.machineCores)}, postgres ${fmtCores(fresh.cpu.postgresCores)} (our backends ${fmtCores(fresh.cpu.backendCores)}), bench process ${fmtCores(fresh.cpu.benchCores)} (the rest of the machine is other processes)`,
      `backends during recovery: ${describeWaits(recovered.waits)}; during the reference: ${describeWaits(fresh.waits)}`,
    ],
  }
}

export const recovery: Scenario = {
  name,
  description:
    "takeover of a SIGKILLed executor's PENDING workflows by a fresh one: time to first takeover, then drain, against the same number run from scratch",
  run: async (env) => {
    const rows: Row[] = []
    const server = env.serverUrl
    const vs = variants(env.quick)
    if (!server) {
      env.log(`  skipped: ${env.serverNote ?? "no server"}`)
      for (const v of vs)
        rows.push({
          scenario: `recovery, ${v.label}`,
          store: "postgres (server)",
          status: "skipped",
          note: env.serverNote ?? "",
        })
      return rows
    }
    for (const [k, v] of vs.entries())
      rows.push(await guarded(`recovery, ${v.label}`, "postgres (server)", env, () => variantRow(env, server, v, k)))
    return rows
  },
}
