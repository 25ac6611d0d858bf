/**
 * The queue rows measured as users run a queue (./live.ts): the worker already running while the work is
 * enqueued in batches, with nobody awaiting the results and with the enqueuer awaiting every one, each
 * against graphile-worker's plain jobs enqueued the same way into a running runner, in interleaved rounds.
 */
import { median, type BenchEnv, type Row, type Series } from "../../harness.ts"
import { measureDurablyLive, measureGraphileLive, type LiveMeasure } from "./live.ts"

export interface LiveSizes {
  readonly rounds: number
  readonly jobs: number
  readonly concurrency: number
  readonly batchSize: number
}

const sum = (parts: ReadonlyArray<Series>): Series => {
  const ops = parts.reduce((a, s) => a + s.ops, 0)
  const totalMs = parts.reduce((a, s) => a + s.totalMs, 0)
  return { label: parts[0]!.label, ops, totalMs, perOpMs: totalMs / ops }
}

const rate = (s: Series) => 1000 / s.perOpMs

const liveRow = (
  scenario: string,
  measured: ReadonlyArray<LiveMeasure>,
  reference: ReadonlyArray<LiveMeasure>,
  size: LiveSizes,
  what: string,
): Row => {
  const m = sum(measured.map((x) => x.drain))
  const r = sum(reference.map((x) => x.drain))
  const perRound = measured.map((x, i) => rate(x.drain) / rate(reference[i]!.drain))
  return {
    scenario,
    store: "postgres (server)",
    status: "ok",
    measured: m,
    reference: r,
    ratio: m.perOpMs / r.perOpMs,
    roundRatios: {
      min: Math.min(...perRound.map((x) => 1 / x)),
      median: median(perRound.map((x) => 1 / x)),
      max: Math.max(...perRound.map((x) => 1 / x)),
    },
    details: {
      sizes: size,
      throughputRatio: rate(m) / rate(r),
      durably: measured.map((x) => x.details),
      graphile: reference.map((x) => x.details),
    },
    notes: [
      `${what}: durably ${rate(m).toFixed(0)}/s, graphile-worker ${rate(r).toFixed(0)}/s; throughput durably / graphile ${(rate(m) / rate(r)).toFixed(2)}× (goal ≥ 2×); per round ${perRound.map((x) => `${x.toFixed(2)}×`).join(", ")}`,
    ],
  }
}

export const liveRows = async (env: BenchEnv, url: string, size: LiveSizes): Promise<Row[]> => {
  const free: LiveMeasure[] = []
  const awaited: LiveMeasure[] = []
  const graphile: LiveMeasure[] = []
  const options = { jobs: size.jobs, concurrency: size.concurrency, batchSize: size.batchSize, log: env.log }
  for (let round = 0; round < size.rounds; round++) {
    env.log(` live round ${round + 1} of ${size.rounds}`)
    const steps = [
      async () => free.push(await measureDurablyLive(url, { ...options, awaiting: false })),
      async () => awaited.push(await measureDurablyLive(url, { ...options, awaiting: true })),
      async () => graphile.push(await measureGraphileLive(url, options)),
    ]
    for (const step of round % 2 === 0 ? steps : [...steps].reverse()) await step()
  }
  const shape = `${size.jobs} one-step workflows / no-op jobs per round, enqueued in calls of ${size.batchSize} while the worker runs (concurrency ${size.concurrency})`
  return [
    liveRow(`queue drain while enqueuing, concurrency ${size.concurrency}`, free, graphile, size, shape),
    liveRow(
      `queue drain while enqueuing, every result awaited, concurrency ${size.concurrency}`,
      awaited,
      graphile,
      size,
      `${shape}; the enqueuer awaits each handle's result()`,
    ),
  ]
}
