/**
 * The soak's fault loop, seeded: every few seconds one fault, chosen and timed by the seed's PRNG, so a run's
 * fault plan can be replayed (`--seed`). The kinds: SIGKILL a worker and restart it (same or new executor id);
 * SIGSTOP one past its lease, then SIGCONT (a zombie that wakes up after its workflows were taken over); kill
 * the workers' connections (pg_terminate_backend); crash the Postgres cluster (`pg_ctl stop -m immediate`)
 * and start it again; pause the whole database (SIGSTOP its processes) briefly.
 */
import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import postgres from "postgres"
import type { Cluster } from "../durability/support/cluster.ts"
import { between } from "../durability/support/prng.ts"
import type { Workers } from "./workers.ts"

const run = promisify(execFile)

export type FaultKind = "kill-same-id" | "kill-new-id" | "freeze" | "drop-connections" | "crash-db" | "pause-db"

export const faultKinds: ReadonlyArray<FaultKind> = [
  "kill-same-id",
  "kill-new-id",
  "freeze",
  "drop-connections",
  "crash-db",
  "pause-db",
]

export interface Fault {
  readonly kind: FaultKind
  readonly atMs: number
  /** When its effect ended (the worker restarted, thawed, the database back). */
  readonly endMs: number
  readonly detail: string
}

export interface FaultLoopOptions {
  readonly random: () => number
  readonly cluster: Cluster
  readonly workers: Workers
  /** The workers' lease: a freeze lasts past it. */
  readonly leaseMs: number
  /** Pause between faults, uniform in [min, max] ms. */
  readonly gapMs: readonly [number, number]
  readonly log: (line: string) => void
}

/** Signal every process of the cluster (the postmaster and its children). */
const signalCluster = async (cluster: Cluster, signal: "SIGSTOP" | "SIGCONT") => {
  const postmaster = Number(readFileSync(join(cluster.dir, "data", "postmaster.pid"), "utf8").split("\n")[0])
  const { stdout } = await run("ps", ["-o", "pid=", "--ppid", String(postmaster)]).catch(() => ({ stdout: "" }))
  const pids = [
    postmaster,
    ...stdout
      .split("\n")
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0),
  ]
  for (const pid of pids)
    try {
      process.kill(pid, signal)
    } catch {
      // gone meanwhile
    }
  return pids.length
}

const terminateWorkerConnections = async (cluster: Cluster): Promise<number> => {
  const admin = postgres(cluster.adminUrl, {
    max: 1,
    onnotice: () => undefined,
    connect_timeout: 5,
    fetch_types: false,
  })
  try {
    const rows = await admin`SELECT count(*)::int AS n FROM (
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'chaos-worker') t`
    return Number(rows[0]?.["n"] ?? 0)
  } finally {
    await admin.end({ timeout: 1 })
  }
}

/** Start the cluster, trying again if the first start fails (the soak must not end with the database down). */
const startAgain = async (cluster: Cluster) => {
  for (let i = 1; ; i++)
    try {
      await cluster.start()
      return
    } catch (e) {
      if (i >= 5) throw e
      await new Promise((r) => setTimeout(r, 1000))
    }
}

/** Run faults until `until` says stop; resolves with every fault injected, in order. */
export const faultLoop = async (options: FaultLoopOptions, until: () => boolean): Promise<Fault[]> => {
  const { random, cluster, workers, log } = options
  const faults: Fault[] = []
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))
  while (!until()) {
    await pause(between(random, options.gapMs[0], options.gapMs[1]))
    if (until()) break
    const kind = faultKinds[Math.floor(random() * faultKinds.length)]!
    const slot = workers.slots[Math.floor(random() * workers.slots.length)]!
    const atMs = Date.now()
    let detail = ""
    try {
      switch (kind) {
        case "kill-same-id":
        case "kill-new-id": {
          const before = `${slot.executorId} (pid ${slot.proc.pid})`
          await workers.kill(slot, kind === "kill-new-id")
          detail = `${before} -> ${slot.executorId} (pid ${slot.proc.pid})`
          break
        }
        case "freeze": {
          const ms = options.leaseMs + between(random, 500, 2000)
          detail = `${slot.executorId} (pid ${slot.proc.pid}) for ${ms} ms`
          await workers.freeze(slot, ms)
          break
        }
        case "drop-connections":
          detail = `${await terminateWorkerConnections(cluster)} backends`
          break
        case "crash-db": {
          const down = between(random, 0, 1500)
          await cluster.stop("immediate")
          await pause(down)
          await startAgain(cluster)
          detail = `down ${down} ms`
          break
        }
        case "pause-db": {
          const ms = between(random, 300, 2500)
          const n = await signalCluster(cluster, "SIGSTOP")
          try {
            await pause(ms)
          } finally {
            await signalCluster(cluster, "SIGCONT")
          }
          detail = `${n} processes for ${ms} ms`
          break
        }
      }
    } catch (e) {
      detail = `${detail} (the fault itself failed: ${(e as Error).message})`
    }
    const fault = { kind, atMs, endMs: Date.now(), detail }
    faults.push(fault)
    log(`fault ${faults.length} at ${atMs} (+${fault.endMs - atMs} ms): ${kind} ${detail}`)
  }
  return faults
}
