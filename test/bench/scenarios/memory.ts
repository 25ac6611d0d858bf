/**
 * Memory: the resident set of one worker process holding `n` workflows that wait (half in
 * `ctx.sleep("1 hour")`, 40% in `ctx.recv("go")`, 10% awaiting a child that waits in `ctx.recv("go")`),
 * against the same worker idle (after a warm-up), both after a full GC, and in the steady state (once V8 has
 * collected on its own, no GC forced), for 10,000 and for 100,000. Goals:
 * ≤ 200 MB for 10,000, ≤ 1 GB for 100,000. A second row per size: waking the waiters (a message each),
 * per workflow woken, against the sends alone. The table's "ms/op" columns hold megabytes of RSS here (one
 * sample each); the notes say KB per waiting workflow, the heap's share, what holding them costs while
 * nothing happens (worker CPU, statements on the schema's tables), and how long waking the recv half took.
 * Details in ./memory/measure.ts.
 */
import { guarded, type BenchEnv, type Row, type Scenario, type Series } from "../harness.ts"
import { kb, mb, measureMemory } from "./memory/measure.ts"
import { describeWaits, fmtCores } from "./scaling/support.ts"

const name = "memory"
/** Each size with its goal; a quick run (CI) takes one small size and snapshots it, so the summarizer runs. */
const sizes = (quick: boolean) =>
  quick
    ? [
        {
          n: 200,
          warmup: 20,
          window: 100,
          quietMs: 1_000,
          snapshot: "always" as const,
          steadyMaxMs: 3_000,
          goalMb: 200,
          goalN: 10_000,
        },
      ]
    : [
        {
          n: 10_000,
          warmup: 200,
          window: 500,
          quietMs: 5_000,
          snapshot: "over-goal" as const,
          steadyMaxMs: 240_000,
          goalMb: 200,
          goalN: 10_000,
        },
        {
          n: 100_000,
          warmup: 200,
          window: 500,
          quietMs: 5_000,
          snapshot: "never" as const,
          steadyMaxMs: 240_000,
          goalMb: 1024,
          goalN: 100_000,
        },
      ]

const megabytes = (label: string, bytes: number): Series => {
  const value = bytes / 1024 / 1024
  return { label, ops: 1, totalMs: value, perOpMs: value }
}

export const memory: Scenario = {
  name,
  description:
    "RSS of one worker holding 10,000 and 100,000 waiting workflows (half sleep, 40% recv, 10% awaiting a child in recv), against the same worker idle; then the waiters are woken",
  run: async (env) => {
    const rows: Row[] = []
    // BENCH_MEMORY_SIZES=10000 measures only that size (comma-separated; full runs only).
    const only = (process.env["BENCH_MEMORY_SIZES"] ?? "").split(",").filter(Boolean).map(Number)
    for (const size of sizes(env.quick))
      if (env.quick || only.length === 0 || only.includes(size.n)) rows.push(...(await measureSize(env, size)))
    return rows
  },
}

const measureSize = async (env: BenchEnv, size: ReturnType<typeof sizes>[number]): Promise<Row[]> => {
  const scenario = `memory, ${size.n} waiting`
  const store = "postgres (server)"
  const server = env.serverUrl
  if (!server) {
    env.log(`  skipped: ${env.serverNote ?? "no server"}`)
    return [{ scenario, store, status: "skipped", note: env.serverNote ?? "" }]
  }
  const GOAL_MB = size.goalMb
  const GOAL_N = size.goalN
  let wake: Row | undefined
  const rss = await guarded(scenario, store, env, async (): Promise<Row> => {
    const m = await measureMemory(server, { ...size, goal: { mb: GOAL_MB, n: GOAL_N }, log: env.log })
    const perWake = m.wakeMs / m.woken
    const perSend = m.sendMs / m.woken
    wake = {
      scenario: `wake, ${m.woken} of ${size.n} waiting`,
      store,
      status: "ok",
      measured: {
        label: "send → workflow SUCCESS, ms per workflow woken",
        ops: m.woken,
        totalMs: m.wakeMs,
        perOpMs: perWake,
      },
      reference: {
        label: "the sends alone (100 in flight), ms per send",
        ops: m.woken,
        totalMs: m.sendMs,
        perOpMs: perSend,
      },
      ratio: perWake / perSend,
      roundRatios: { min: perWake / perSend, median: perWake / perSend, max: perWake / perSend },
      details: { n: size.n, woken: m.woken, wakeMs: m.wakeMs, sendMs: m.sendMs },
      notes: [
        `${m.woken} workflows woken (recv waiters and awaited children; the parents of the children finish after them): ${(m.wakeMs / 1000).toFixed(1)} s from the first send to all SUCCESS, ${(1000 / perWake).toFixed(0)} per second`,
      ],
    }
    const b = m.baseline
    const h = m.holding
    const delta = h.rss - b.rss
    const heapDelta = h.heapUsed - b.heapUsed
    const compactedDelta = h.rssCompacted - b.rssCompacted
    const perWorkflow = delta / size.n
    const at = (bytes: number) => (size.n === GOAL_N ? "" : ` (${mb(bytes)} MB projected to ${GOAL_N})`)
    const projectedCompacted = b.rssCompacted + (compactedDelta * GOAL_N) / size.n
    const met = (bytes: number) => (bytes / 1024 / 1024 <= GOAL_MB ? "met" : "NOT met")
    // Projected from the idle worker's RSS (taken after a compacting GC, as V8 leaves a quiet process).
    const steadyProjected = b.rssCompacted + ((m.steady.rss - b.rssCompacted) * GOAL_N) / size.n
    const q = m.quiet
    const perN = (count: number) => (count / size.n).toFixed(count / size.n >= 10 ? 0 : 1)
    const perSecond = (x: number) => ((x / q.ms) * 1000).toFixed(0)
    const ratio = m.holding.rss / m.baseline.rss
    return {
      scenario,
      store,
      status: "ok",
      measured: megabytes(`worker RSS, MB, holding ${size.n} waiting`, m.holding.rss),
      reference: megabytes("worker RSS, MB, idle after warm-up", m.baseline.rss),
      ratio,
      roundRatios: { min: ratio, median: ratio, max: ratio },
      details: { sizes: size, goal: { mb: GOAL_MB, workflows: GOAL_N }, ...m.details },
      notes: [
        `RSS in the steady state (no GC forced, ${m.steady.collected ? `after V8 collected on its own, ${(m.steady.collectedAfterMs / 1000).toFixed(0)} s into the wait` : `V8 did not collect on its own within ${(m.steady.waitedMs / 1000).toFixed(0)} s`}): ` +
          `${mb(m.steady.rss)} MB holding ${size.n} (${mb(m.steady.rssAtStart)} MB before), heap used ${mb(m.steady.heapUsed)} MB; goal ≤ ${GOAL_MB} MB for ${GOAL_N}: ${m.steady.collected ? met(steadyProjected) : "not shown"}${at(steadyProjected)}`,
        `RSS after a full GC: ${mb(b.rss)} MB idle → ${mb(h.rss)} MB holding ${size.n} (+${mb(delta)} MB, ${kb(perWorkflow)} KB per waiting workflow); goal ≤ ${GOAL_MB} MB for ${GOAL_N}: ${met(m.projectedRss)}${at(m.projectedRss)}`,
        `of which the V8 heap: used ${mb(b.heapUsed)} → ${mb(h.heapUsed)} MB (+${mb(heapDelta)} MB, ${kb(heapDelta / size.n)} KB each), committed (heapTotal) ${mb(b.heapTotal)} → ${mb(h.heapTotal)} MB; external ${mb(h.external - b.external)} MB more; ` +
          `${mb(h.rssFile)} MB of the RSS is the node binary's code (file-backed); before the GC the RSS was ${mb(h.rssBeforeGc)} MB`,
        `after a last-resort GC (compacts, gives V8's pooled free pages back): ${mb(b.rssCompacted)} → ${mb(h.rssCompacted)} MB (+${mb(compactedDelta)} MB, ${kb(compactedDelta / size.n)} KB each; heap used ${mb(h.heapUsedCompacted)} MB, committed ${mb(h.heapTotalCompacted)} MB): ${met(projectedCompacted)}${at(projectedCompacted)}; ` +
          `the gap to the full-GC figure is committed but free heap (V8 keeps pages it has used; churn while waiting grows it)`,
        ...(m.heap
          ? [
              `heap snapshot${env.quick ? "" : " (over the goal)"}, ${mb(m.heap.selfBytes)} MB in ${m.heap.nodes} objects; biggest groups (count per waiting workflow, self size): ` +
                m.heap.groups
                  .slice(0, 14)
                  .map((g) => `${g.type}${g.name ? ` ${g.name}` : ""} ${perN(g.count)}/wf ${mb(g.selfBytes)} MB`)
                  .join("; "),
            ]
          : []),
        `starting the ${size.n} took ${m.startMs.toFixed(0)} ms; while they waited (${(q.ms / 1000).toFixed(1)} s quiet): worker CPU ${((q.workerCpuMs / q.cpuMs) * 100).toFixed(0)}% of a core (event loop ${(q.workerElu * 100).toFixed(0)}% busy), ` +
          `its Postgres backends ${fmtCores(q.machine.backendCores)} cores (machine ${fmtCores(q.machine.machineCores)} of 2; backends: ${describeWaits(q.waits, 3)}), ` +
          (q.wal
            ? `${((q.wal.commits / q.wal.ms) * 1000).toFixed(0)} transactions/s on the database, ${((q.wal.syncs / q.wal.ms) * 1000).toFixed(0)} WAL flushes/s and ${kb((q.wal.bytes / q.wal.ms) * 1000)} KB/s of WAL server-wide, ` +
              ``
            : "") +
          `${perSecond(q.tables.scans)} table scans/s and ${perSecond(q.tables.writes)} rows written/s on the schema (${Object.entries(
            q.tables.perTable,
          )
            .map(([t, d]) => `${t}: ${perSecond(d.scans)} scans/s`)
            .join(", ")})`,
        `executions held in memory while they waited: ${m.liveWhileWaiting} (the rest parked)`,
        `woke the ${m.woken} waiters and children (a send each from another engine): all SUCCESS ${m.wakeMs.toFixed(0)} ms after the first send; RSS then ${mb(m.afterWake.rss)} MB${m.heap ? " (inflated by the snapshot)" : ""}, heap used ${mb(m.afterWake.heapUsed)} MB`,
      ],
    }
  })
  return wake ? [rss, wake] : [rss]
}
