/**
 * The bench process's side of the DBOS Transact rows: for each measurement, create fresh system databases
 * (`dbos_bench_<hex>`, on the bench's server), run the measurement in a child process (./child.ts), and drop
 * the databases afterwards whatever happened (their connections terminated first). The child reports its
 * result over the IPC channel; one that does not answer in time, or lingers after answering, is killed.
 * This module imports nothing of DBOS, so the bench process never loads it.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import postgres from "postgres"
import { benchSchema, type BenchEnv, type Row } from "../../harness.ts"
import type { ChildReply, ChildRequest, ChildResults, DbosQueueMeasure, QueueRequest } from "./common.ts"

export type { DbosQueueMeasure } from "./common.ts"

const childScript = fileURLToPath(new URL("./child.ts", import.meta.url))

/** The installed DBOS Transact version (its package.json sits two levels above the resolved dist/src/index.js). */
export const dbosVersion = (): string => {
  try {
    const pkg: unknown = JSON.parse(
      readFileSync(new URL("../../package.json", import.meta.resolve("@dbos-inc/dbos-sdk")), "utf8"),
    )
    return typeof pkg === "object" && pkg !== null && "version" in pkg ? String(pkg.version) : "?"
  } catch {
    return "?"
  }
}

/** The store column of the DBOS rows. */
export const dbosStore = (): string => `DBOS ${dbosVersion()} (server)`

/** `url` with another database. */
const withDatabase = (url: string, database: string): string => {
  const u = new URL(url)
  u.pathname = `/${encodeURIComponent(database)}`
  return u.toString()
}

/**
 * Run `fn` with `count` fresh databases on the server of `url` and the name of a schema for a reference
 * table in `url`'s database; drop them all afterwards, even on failure (every connection to the databases
 * terminated first: a killed child's backends may still be there; the schema may never have been created).
 */
const withSystemDatabases = async <A>(
  url: string,
  count: number,
  log: (line: string) => void,
  fn: (urls: string[], referenceSchema: string) => Promise<A>,
): Promise<A> => {
  const admin = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 10 })
  const created: string[] = []
  const referenceSchema = benchSchema()
  try {
    for (let i = 0; i < count; i++) {
      const name = `dbos_bench_${randomBytes(5).toString("hex")}`
      await admin.unsafe(`CREATE DATABASE "${name}"`)
      created.push(name)
    }
    log(
      `  DBOS ${dbosVersion()}: fresh system database${count > 1 ? "s" : ""} ${created.join(", ")}, measured in a child process`,
    )
    return await fn(
      created.map((name) => withDatabase(url, name)),
      referenceSchema,
    )
  } finally {
    await admin
      .unsafe(`DROP SCHEMA IF EXISTS "${referenceSchema}" CASCADE`)
      .catch((e: unknown) =>
        log(`  DBOS cleanup: dropping schema ${referenceSchema} failed: ${e instanceof Error ? e.message : String(e)}`),
      )
    for (const name of created)
      try {
        await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name])
        await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      } catch (e) {
        log(`  DBOS cleanup: dropping database ${name} failed: ${e instanceof Error ? e.message : String(e)}`)
      }
    await admin.end({ timeout: 5 })
  }
}

/** How long a child may linger once it answered before it is killed (it should exit on its own). */
const LINGER_MS = 10_000

/** Run one measurement in a child process; its result, or a failure saying why. */
const inChild = async <K extends ChildRequest["kind"]>(
  request: ChildRequest & { readonly kind: K },
  timeoutMs: number,
  log: (line: string) => void,
): Promise<ChildResults[K]> => {
  const child = spawn(process.execPath, ["--conditions=@durably/source", childScript, JSON.stringify(request)], {
    // The child's progress lines go where the bench's go; its result comes over IPC.
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
  })
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ? `signal ${signal}` : `code ${String(code)}`)),
  )
  const replied = new Promise<ChildReply>((resolve) => child.once("message", (m) => resolve(m as ChildReply)))
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<ChildReply>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, error: `the DBOS child process did not answer in ${timeoutMs} ms` }),
      timeoutMs,
    )
  })
  try {
    const reply = await Promise.race([
      replied,
      timedOut,
      exited.then(async (how): Promise<ChildReply> =>
        // A reply sent just before exiting may still be in flight: give it a moment.
        Promise.race([
          replied,
          new Promise<ChildReply>((resolve) =>
            setTimeout(
              () => resolve({ ok: false, error: `the DBOS child process exited (${how}) without a result` }),
              500,
            ),
          ),
        ]),
      ),
    ])
    if (!reply.ok) {
      if (reply.stack) log(`  DBOS child process failed: ${reply.stack}`)
      throw new Error(reply.error)
    }
    return reply.result as ChildResults[K]
  } finally {
    clearTimeout(timer)
    if (child.exitCode === null && child.signalCode === null) {
      const linger = setTimeout(() => {
        log(`  DBOS child process ${child.pid} did not exit on its own; killing it`)
        child.kill("SIGKILL")
      }, LINGER_MS)
      await exited
      clearTimeout(linger)
    }
  }
}

/** Per-step cost of DBOS Transact, as one row (see ./perStep.ts). */
export const dbosPerStepRow = (env: BenchEnv, url: string): Promise<Row> =>
  withSystemDatabases(url, 1, env.log, async ([systemDatabaseUrl], referenceSchema) => {
    return inChild(
      {
        kind: "perStep",
        quick: env.quick,
        benchUrl: url,
        systemDatabaseUrl: systemDatabaseUrl!,
        referenceSchema,
        store: dbosStore(),
      },
      env.quick ? 60_000 : 300_000,
      env.log,
    )
  })

/** start → result latency of DBOS Transact, p50 and p99 rows (see ./latency.ts). */
export const dbosLatencyRows = (env: BenchEnv, url: string): Promise<Row[]> =>
  withSystemDatabases(url, 1, env.log, async ([systemDatabaseUrl], referenceSchema) => {
    return inChild(
      {
        kind: "latency",
        quick: env.quick,
        benchUrl: url,
        systemDatabaseUrl: systemDatabaseUrl!,
        referenceSchema,
        store: dbosStore(),
      },
      env.quick ? 60_000 : 300_000,
      env.log,
    )
  })

/** DBOS Transact's queue: enqueue one per call and drain (see ./queue.ts), on two fresh system databases. */
export const measureDbosQueue = (
  url: string,
  options: Pick<QueueRequest, "jobs" | "concurrency" | "enqueueCount"> & { readonly log: (line: string) => void },
): Promise<DbosQueueMeasure> =>
  withSystemDatabases(url, 2, options.log, async ([drainDatabaseUrl, enqueueDatabaseUrl]) => {
    const { jobs, concurrency, enqueueCount, log } = options
    return inChild(
      {
        kind: "queue",
        drainDatabaseUrl: drainDatabaseUrl!,
        enqueueDatabaseUrl: enqueueDatabaseUrl!,
        jobs,
        concurrency,
        enqueueCount,
      },
      // DBOS dequeues at most once a second by default: ~100 workflows a second at concurrency 100.
      120_000 + jobs * 50 + enqueueCount * 20,
      log,
    )
  })
