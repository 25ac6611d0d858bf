/**
 * What observability costs per step: sequential 10-step workflows (start to completion) / 10, each variant
 * against the same workflows on an engine with no observer at all, on the same store, interleaved in rounds.
 *
 * - lifecycle logs: the default logger path (the lifecycle observer, entries filtered to warnings by the sink);
 * - OpenTelemetry with no SDK: `openTelemetry()` with nothing registered (the API's no-op tracer and meter);
 * - OpenTelemetry with an SDK: a real tracer provider (batch processor, an exporter that drops the spans), a
 *   real meter provider, and the async-hooks context manager an application's SDK registers; and the same
 *   with traces only;
 * - an A/A control: an engine with no observer against another one, which shows how far the harness alone
 *   reads from 1.00× on this machine, in this run.
 *
 * On the memory store a step is engine work only, so this is the worst case; on the embedded store (PGlite
 * in this process) a step is a commit in this process; on the Postgres server a step is a round trip, as in
 * production. The SDK is registered only for its own rows, and unregistered after.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { context, metrics, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics"
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace"
import { Effect } from "effect"
import { Durably, memoryStore, uuidv7, type LaunchOptions, type Store } from "@durably/core"
import { openTelemetry } from "@durably/otel"
import { postgresStore } from "@durably/postgres"
import { embeddedStore } from "@durably/postgres/embedded"
import { benchSchema, guarded, interleaved, type BenchEnv, type Row, type Scenario } from "../harness.ts"
import { quietLogger, STEPS, tenSteps, withCpu } from "./perStep/common.ts"

const name = "observability per step"

class IdleReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve()
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
}

/** Exports nothing: the cost measured is the instrumentation's and the SDK's, not a backend's. */
const dropping: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
}

// Many rounds: a cost of a few percent is read against rounds that spread by tens of percent on a shared
// machine, and 20 rounds of 20 moved the SDK's ratio by several points from run to run. On the memory store
// a workflow takes a tenth of a millisecond, so its rounds are larger, or a single GC pause decides one.
const sizes = (quick: boolean, storeLabel: string) =>
  quick
    ? { rounds: 2, workflowsPerRound: 5, warmup: 5 }
    : storeLabel === "memory"
      ? { rounds: 40, workflowsPerRound: 200, warmup: 200 }
      : { rounds: 60, workflowsPerRound: 20, warmup: 40 }

type Variant = { readonly label: string; readonly options: Pick<LaunchOptions, "logger" | "observers"> }

const launch = (store: Store, options: Pick<LaunchOptions, "logger" | "observers">) =>
  Durably.launch({
    store,
    workflows: [tenSteps],
    executorId: `bench-${uuidv7()}`,
    appVersion: "bench",
    heartbeat: false,
    logger: false,
    ...options,
  })

const compare = async (env: BenchEnv, storeLabel: string, makeStore: () => Store, variant: Variant): Promise<Row> => {
  const size = sizes(env.quick, storeLabel)
  const store = makeStore()
  const base = await launch(store, {})
  const subject = await launch(store, variant.options)
  try {
    const runs = (engine: Durably) => async (n: number) => {
      for (let i = 0; i < n; i++) await engine.run(tenSteps, i)
    }
    const opsPerRound = size.workflowsPerRound * STEPS
    // CPU time of this process as well as wall time: on a loaded machine wall time swings with scheduling,
    // while the instrumentation's cost is CPU spent here (on the memory store, all of a step's work is).
    const cpu = { subject: { ms: 0 }, reference: { ms: 0 } }
    // Per round too, so the CPU ratio has a spread like the wall-time one (rounds alternate which runs first).
    const cpuRounds = { subject: [] as number[], reference: [] as number[] }
    const measuredRound = (into: { ms: number }, rounds: number[], engine: Durably) => async () => {
      const before = into.ms
      await withCpu(into, () => runs(engine)(size.workflowsPerRound))
      rounds.push(into.ms - before)
    }
    const result = await interleaved({
      rounds: size.rounds,
      warmup: async () => {
        await runs(base)(size.warmup)
        await runs(subject)(size.warmup)
      },
      subject: {
        label: `${variant.label}, per step`,
        opsPerRound,
        run: measuredRound(cpu.subject, cpuRounds.subject, subject),
      },
      reference: {
        label: "no observer, per step",
        opsPerRound,
        run: measuredRound(cpu.reference, cpuRounds.reference, base),
      },
    })
    const cpuPerStep = {
      subjectUs: (cpu.subject.ms / result.measured.ops) * 1000,
      referenceUs: (cpu.reference.ms / result.reference.ops) * 1000,
    }
    const cpuRatio = cpuPerStep.subjectUs / cpuPerStep.referenceUs
    const perRound = cpuRounds.subject.map((s, i) => s / cpuRounds.reference[i]!).sort((a, b) => a - b)
    const cpuRounds3 = {
      min: perRound[0]!,
      median: perRound[Math.floor(perRound.length / 2)]!,
      max: perRound[perRound.length - 1]!,
    }
    const spread = (r: { min: number; median: number; max: number }) =>
      `${r.min.toFixed(2)}–${r.median.toFixed(2)}–${r.max.toFixed(2)}`
    const load = loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")
    env.log(
      `  ${storeLabel}, ${variant.label}: ${result.measured.perOpMs.toFixed(4)} vs ${result.reference.perOpMs.toFixed(4)} ms per step (${result.ratio.toFixed(3)}×); ` +
        `CPU ${cpuPerStep.subjectUs.toFixed(1)} vs ${cpuPerStep.referenceUs.toFixed(1)} µs per step (${cpuRatio.toFixed(3)}×, rounds ${spread(cpuRounds3)}); ` +
        `wall rounds ${spread(result.roundRatios)}; load ${load} on ${availableParallelism()} cores`,
    )
    return {
      scenario: name,
      store: `${storeLabel}: ${variant.label}`,
      status: "ok",
      ...result,
      details: {
        workflows: size.rounds * size.workflowsPerRound,
        cpuPerStep,
        cpuRatio,
        cpuRoundRatios: cpuRounds3,
        loadAverage: loadavg(),
        cores: availableParallelism(),
      },
      notes: [
        `client CPU per step: ${cpuPerStep.subjectUs.toFixed(1)} µs vs ${cpuPerStep.referenceUs.toFixed(1)} µs with no observer (${cpuRatio.toFixed(3)}×; rounds min–med–max ${spread(cpuRounds3)})`,
        `load average ${load} on ${availableParallelism()} cores (the machine is shared: wall ratios swing with it)`,
      ],
    }
  } finally {
    await subject.shutdown()
    await base.shutdown()
    await Effect.runPromise(store.close())
  }
}

export const tracing: Scenario = {
  name,
  description: `sequential ${STEPS}-step workflows / ${STEPS} with lifecycle logs, and OpenTelemetry without and with an SDK (traces only, and traces with metrics), each against an engine with no observer on the same store; and an A/A control`,
  run: async (env) => {
    const dir = mkdtempSync(join(tmpdir(), "durably-bench-"))
    const stores: Array<{ label: string; make: () => Store; cleanup?: () => Promise<void> }> = [
      { label: "memory", make: () => memoryStore() },
      {
        label: "embedded",
        make: () => embeddedStore({ dir: join(dir, uuidv7()) }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      },
    ]
    if (env.serverUrl) {
      const schema = benchSchema()
      env.log(`  postgres schema ${schema} (dropped at the end)`)
      const url = env.serverUrl
      stores.push({
        label: "postgres (server)",
        make: () => postgresStore({ url, schema, max: 10 }),
        cleanup: async () => {
          const { default: postgres } = await import("postgres")
          const sql = postgres(url, { max: 1, onnotice: () => undefined })
          await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
          await sql.end({ timeout: 5 })
        },
      })
    } else env.log(`  postgres (server) skipped: ${env.serverNote ?? "no server"}`)

    const rows: Row[] = []
    for (const s of stores) {
      const variants: Variant[] = [
        // The same engine twice: how far the harness alone reads from 1.00× here.
        { label: "no observer (A/A control)", options: {} },
        { label: "lifecycle logs", options: { logger: quietLogger } },
        { label: "OpenTelemetry, no SDK", options: { observers: [openTelemetry()] } },
      ]
      for (const v of variants)
        rows.push(await guarded(name, `${s.label}: ${v.label}`, env, () => compare(env, s.label, s.make, v)))
      // An application's SDK: registered for this row only.
      const contextManager = new AsyncLocalStorageContextManager().enable()
      context.setGlobalContextManager(contextManager)
      const tracerProvider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: dropping })] })
      const meterProvider = new MeterProvider({ readers: [new IdleReader()] })
      const withSdk: Variant[] = [
        {
          label: "OpenTelemetry with an SDK, traces only",
          options: { observers: [openTelemetry({ tracerProvider, metrics: false })] },
        },
        {
          label: "OpenTelemetry with an SDK",
          options: { observers: [openTelemetry({ tracerProvider, meterProvider })] },
        },
      ]
      try {
        for (const v of withSdk)
          rows.push(await guarded(name, `${s.label}: ${v.label}`, env, () => compare(env, s.label, s.make, v)))
      } finally {
        await tracerProvider.shutdown()
        await meterProvider.shutdown()
        context.disable()
        trace.disable()
        metrics.disable()
      }
      await s.cleanup?.()
    }
    return rows
  },
}
