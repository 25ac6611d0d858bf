/**
 * What the latency rows share: the workflows, the wall clock that two processes can compare, sizes, and how
 * a set of latency samples becomes a p50 row and a p99 row against a reference sampled in the same rounds.
 */
import { defineWorkflow } from "@durably/core"
import { median, type Row, type Series } from "../../harness.ts"

/**
 * Waits in `ctx.recv("ping")` `count` times; right after each message, a step records when the workflow's
 * code had it (and tells `onSeen`, in this process), and an event `seen-<i>` publishes that instant.
 * Operation ids: recv 3i, step 3i+1, setEvent 3i+2. The recv has a (long) timeout so that, when nothing is
 * waiting, it records a pending checkpoint before it waits: the bench sends only once it sees that, so every
 * sample is a wake-up, never a message already there.
 */
export const makePinger = (name: string, onSeen?: (i: number, at: number) => void) =>
  defineWorkflow(name, async (ctx, count: number) => {
    for (let i = 0; i < count; i++) {
      await ctx.recv<number>("ping", { timeout: "1 hour" })
      const at = await ctx.step("seen", () => {
        const now = wallNow()
        onSeen?.(i, now)
        return now
      })
      await ctx.setEvent(`seen-${i}`, at)
    }
    return count
  })

/** The pinger of the receiver process: the bench reads its `seen-<i>` events. */
export const pinger = makePinger("bench-pinger")

/** The step id of the i-th recv of `pinger`. */
export const recvStepOf = (i: number): number => 3 * i

/** A workflow of one step. */
export const oneStep = defineWorkflow("bench-one-step", async (ctx, n: number) => ctx.step("only", () => n))

/** `promise`, or a failure naming `what` after `ms`: a harness that hangs says where. */
export const within = async <A>(ms: number, what: string, promise: Promise<A>): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer after ${ms} ms: ${what}`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Wait until `probe` says true, polling every millisecond; fail after `ms` with what it last said. */
export const pollUntil = async (ms: number, what: string, probe: () => Promise<string | true>): Promise<void> => {
  const deadline = performance.now() + ms
  for (;;) {
    const answer = await probe()
    if (answer === true) return
    if (performance.now() > deadline) throw new Error(`${what}: still ${answer} after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 1))
  }
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes on one machine. */
export const wallNow = (): number => performance.timeOrigin + performance.now()

export interface Sizes {
  readonly rounds: number
  readonly perRound: number
  readonly warmup: number
}

export const sizes = (quick: boolean): Sizes =>
  quick ? { rounds: 2, perRound: 5, warmup: 3 } : { rounds: 10, perRound: 40, warmup: 10 }

/** Nearest-rank percentile (p in 0..1). */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN
}

/** Per round, the samples of the subject and of the reference (taken in the same round). */
export interface Sampled {
  readonly subject: number[][]
  readonly reference: number[][]
}

export const newSampled = (): Sampled => ({ subject: [], reference: [] })

/**
 * Run `rounds` rounds of `perRound` subject samples and `perRound` reference samples, the order alternating
 * per round (so drift falls on both), after a warm-up of each that is not kept.
 */
export const sampleRounds = async (spec: {
  readonly sizes: Sizes
  readonly subject: (i: number) => Promise<number>
  readonly reference: () => Promise<number>
}): Promise<Sampled> => {
  const { rounds, perRound, warmup } = spec.sizes
  let i = 0
  const subjects = async (n: number) => {
    const out: number[] = []
    for (let k = 0; k < n; k++) out.push(await spec.subject(i++))
    return out
  }
  const references = async (n: number) => {
    const out: number[] = []
    for (let k = 0; k < n; k++) out.push(await spec.reference())
    return out
  }
  await subjects(warmup)
  await references(warmup)
  const sampled = newSampled()
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      sampled.subject.push(await subjects(perRound))
      sampled.reference.push(await references(perRound))
    } else {
      sampled.reference.push(await references(perRound))
      sampled.subject.push(await subjects(perRound))
    }
  }
  return sampled
}

const seriesAt = (label: string, rounds: ReadonlyArray<ReadonlyArray<number>>, p: number): Series => {
  const all = rounds.flat()
  return { label, ops: all.length, totalMs: all.reduce((a, b) => a + b, 0), perOpMs: percentile(all, p) }
}

/** The p50 and p99 rows of one measurement: ms/op is the percentile; the ratio is against the reference's. */
export const percentileRows = (spec: {
  readonly scenario: string
  readonly store: string
  readonly subjectLabel: string
  readonly referenceLabel: string
  readonly sampled: Sampled
  readonly details: Record<string, unknown>
  readonly notes: ReadonlyArray<string>
}): Row[] =>
  [0.5, 0.99].map((p): Row => {
    const tag = p === 0.5 ? "p50" : "p99"
    const measured = seriesAt(`${spec.subjectLabel}, ${tag}`, spec.sampled.subject, p)
    const reference = seriesAt(`${spec.referenceLabel}, ${tag}`, spec.sampled.reference, p)
    const ratios = spec.sampled.subject.map((s, r) => percentile(s, p) / percentile(spec.sampled.reference[r] ?? [], p))
    return {
      scenario: `${spec.scenario} ${tag}`,
      store: spec.store,
      status: "ok",
      measured,
      reference,
      ratio: measured.perOpMs / reference.perOpMs,
      roundRatios: { min: Math.min(...ratios), median: median(ratios), max: Math.max(...ratios) },
      details: { ...spec.details, percentile: p },
      // The notes once, under the p50 row.
      notes: p === 0.5 ? spec.notes : [],
    }
  })

/** One line on the distribution: min, p50, p90, p99, max. */
export const spread = (xs: ReadonlyArray<number>): string =>
  `min ${Math.min(...xs).toFixed(2)}, p50 ${percentile(xs, 0.5).toFixed(2)}, p90 ${percentile(xs, 0.9).toFixed(2)}, p99 ${percentile(xs, 0.99).toFixed(2)}, max ${Math.max(...xs).toFixed(2)} ms`

/** The goal for both latencies. */
export const GOAL_P50_MS = 5

export const goalNote = (what: string, xs: ReadonlyArray<number>): string => {
  const p50 = percentile(xs, 0.5)
  return `goal p50 ≤ ${GOAL_P50_MS} ms for ${what}: ${p50 <= GOAL_P50_MS ? "met" : "NOT met"} (${p50.toFixed(2)} ms)`
}
