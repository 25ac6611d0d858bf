/**
 * What the recovery, memory and scaling scenarios share: child processes spoken to over an IPC channel (so
 * that a crash can be a real SIGKILL and memory is one process's own), samplers of where the server's
 * backends are (pg_stat_activity) and of the machine's CPU (/proc), and small helpers. Nothing here measures
 * by itself; the scenarios decide what is timed.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import postgres from "postgres"
import type { LogSink } from "@durably/core"

export type Sql = postgres.Sql<Record<string, postgres.PostgresType>>

/** Warnings and errors only: an engine must not print per workflow while it is timed. */
export const quietLogger: LogSink = (entry) => {
  if (entry.level === "warn" || entry.level === "error") console.error(`[durably ${entry.level}] ${entry.message}`)
}

export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** `promise`, or a rejection naming `what` after `ms`; the timer never outlives the race. */
export const within = async <T>(ms: number, what: string, promise: Promise<T>): Promise<T> => {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Poll `probe` every `everyMs` until it answers true; fail after `ms` with what it last said. */
export const pollUntil = async (
  ms: number,
  everyMs: number,
  what: string,
  probe: () => Promise<string | true>,
): Promise<void> => {
  const deadline = performance.now() + ms
  for (;;) {
    const answer = await probe()
    if (answer === true) return
    if (performance.now() > deadline) throw new Error(`${what}: still ${answer} after ${ms} ms`)
    await pause(everyMs)
  }
}

export const connect = (url: string, max = 1): Sql =>
  postgres(url, { max, onnotice: () => undefined, connect_timeout: 10 })

export const setting = async (sql: Sql, name: string): Promise<string> =>
  (await sql.unsafe<{ v: string }[]>(`SELECT current_setting($1) AS v`, [name]))[0]?.v ?? "?"

/** Workflows of a schema by status. */
export const statusCounts = async (sql: Sql, schema: string): Promise<Record<string, number>> =>
  Object.fromEntries(
    (
      await sql.unsafe<{ status: string; n: number }[]>(
        `SELECT status, count(*)::int AS n FROM "${schema}".workflows GROUP BY status`,
      )
    ).map((r) => [r.status, r.n]),
  )

export const dropSchema = async (sql: Sql, schema: string, log: (line: string) => void) =>
  sql
    .unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    .catch((e: unknown) => log(`  cleanup: dropping ${schema} failed: ${String(e)}`))

// ── Child processes ──────────────────────────────────────────────────────────────────────────────────────

/** A message between the bench and a child: a `type` and whatever else it carries. */
export interface Message {
  readonly type: string
  readonly [k: string]: unknown
}

export interface Child {
  readonly process: ChildProcess
  readonly pid: number
  /** Every message the child sent, in order. */
  readonly messages: ReadonlyArray<Message>
  /** The latest message of `type`, if any. */
  readonly last: (type: string) => Message | undefined
  /** Resolves with the first message of `type` (seen already or to come); rejects if the child exits or after `ms`. */
  readonly next: (type: string, ms: number, after?: number) => Promise<Message>
  readonly send: (message: Message) => void
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly alive: () => boolean
  /** SIGKILL, then wait for the exit. */
  readonly kill: () => Promise<void>
  /** Ask it to end (`{ type: "exit" }`), SIGKILL after `ms`. */
  readonly stop: (ms: number) => Promise<void>
}

/**
 * Start `node --conditions=@durably/source [...nodeFlags] script config` with an IPC channel; stdout is
 * dropped (the bench prints), stderr is shared (warnings from the child's engine show).
 */
export const spawnChild = (script: string, config: unknown, nodeFlags: ReadonlyArray<string> = []): Child => {
  const child = spawn(
    process.execPath,
    ["--conditions=@durably/source", ...nodeFlags, script, JSON.stringify(config)],
    {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      env: { ...process.env, NODE_NO_WARNINGS: "1" },
    },
  )
  const messages: Message[] = []
  const waiters = new Set<() => void>()
  child.on("message", (m: Message) => {
    messages.push(m)
    for (const w of [...waiters]) w()
  })
  let gone = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      gone = true
      for (const w of [...waiters]) w()
      resolve({ code, signal })
    }),
  )
  child.on("error", () => undefined)
  const next = (type: string, ms: number, after = 0) =>
    new Promise<Message>((resolve, reject) => {
      const check = () => {
        const found = messages.slice(after).find((m) => m.type === type)
        if (found) done(() => resolve(found))
        else if (gone) done(() => reject(new Error(`child ${child.pid} exited before it said ${type}`)))
      }
      const timer = setTimeout(
        () => done(() => reject(new Error(`child ${child.pid} did not say ${type} in ${ms} ms`))),
        ms,
      )
      const done = (settle: () => void) => {
        clearTimeout(timer)
        waiters.delete(check)
        settle()
      }
      waiters.add(check)
      check()
    })
  const kill = async () => {
    if (!gone) child.kill("SIGKILL")
    await exited
  }
  return {
    process: child,
    pid: child.pid ?? -1,
    messages,
    last: (type) => messages.findLast((m) => m.type === type),
    next,
    send: (message) => {
      if (!gone && child.connected) child.send(message)
    },
    exited,
    alive: () => !gone,
    kill,
    stop: async (ms) => {
      if (gone) return
      if (child.connected) child.send({ type: "exit" })
      const timer = setTimeout(() => child.kill("SIGKILL"), ms)
      await exited
      clearTimeout(timer)
    },
  }
}

/** In a child: the config from argv, a way to talk to the bench, and an exit when the bench is gone. */
export const childSide = <C>() => {
  const config = JSON.parse(process.argv[2] ?? "") as C
  const say = (message: Message) => {
    if (process.connected) process.send?.(message)
  }
  // The bench died or closed the channel: nothing will stop this process otherwise.
  process.on("disconnect", () => process.exit(2))
  const handlers = new Map<string, (m: Message) => unknown>()
  process.on("message", (m: Message) => {
    const handler = handlers.get(m.type)
    if (handler)
      Promise.resolve()
        .then(() => handler(m))
        .catch((e: unknown) => {
          say({ type: "error", message: e instanceof Error ? (e.stack ?? e.message) : String(e) })
          process.exit(1)
        })
  })
  return {
    config,
    say,
    on: (type: string, handler: (m: Message) => unknown) => void handlers.set(type, handler),
  }
}

// ── Where the server's backends are ──────────────────────────────────────────────────────────────────────

/** pg_stat_activity samples of the backends working on one schema: wait event · statement → sightings. */
export interface Waits {
  readonly samples: number
  readonly seen: Record<string, number>
  /** Backends seen working on the schema (in any state): whose CPU is ours, see `attribute`. */
  readonly pids: ReadonlyArray<number>
}

const statementOf = (query: string) => {
  const q = query.replace(/\s+/g, " ").trim()
  if (q.includes(".claim_queue(")) return "claim_queue"
  if (/^WITH owner AS/.test(q)) return "writeCheckpoint/receive"
  if (/^UPDATE \S+\.workflows w SET status = c\.status/.test(q)) return "completeWorkflows"
  if (/^UPDATE \S+\.workflows SET status = \$3/.test(q)) return "completeWorkflow"
  if (/^WITH prev AS/.test(q)) return "heartbeat"
  if (/^WITH candidates AS/.test(q)) return "takeOver"
  if (/^SELECT .* FROM \S+\.steps WHERE workflow_id = \$1 ORDER BY step_id/.test(q)) return "loadCheckpoints"
  if (/^INSERT INTO \S+\.workflows/.test(q)) return "createWorkflow"
  return q.slice(0, 40)
}

/** Sample pg_stat_activity every `everyMs` on a connection of its own, until `stop`. */
export const sampleWaits = (url: string, schema: string, everyMs = 100) => {
  const mon = connect(url)
  const seen = new Map<string, number>()
  const pids = new Set<number>()
  let samples = 0
  let running = true
  const loop = (async () => {
    while (running) {
      const rows = await mon.unsafe<{ pid: number; active: boolean; wait: string; query: string }[]>(
        `SELECT pid, state = 'active' AS active, coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait, query
           FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND position($1 in query) > 0`,
        [`"${schema}".`],
      )
      samples++
      for (const r of rows) {
        pids.add(r.pid)
        if (!r.active) continue
        const key = `${r.wait} · ${statementOf(r.query)}`
        seen.set(key, (seen.get(key) ?? 0) + 1)
      }
      await pause(everyMs)
    }
  })().catch(() => undefined) // a failed sample ends the sampling, never the measurement
  let stopped: Promise<Waits> | undefined
  return {
    stop: (): Promise<Waits> =>
      (stopped ??= (async () => {
        running = false
        await loop
        await mon.end({ timeout: 5 })
        return { samples, seen: Object.fromEntries([...seen].sort((a, b) => b[1] - a[1])), pids: [...pids] }
      })()),
  }
}

/** The `top` most frequent waits, as shares of all sightings, and how many backends were active on average. */
export const describeWaits = (w: Waits, top = 4): string => {
  const entries = Object.entries(w.seen)
  const total = entries.reduce((a, [, n]) => a + n, 0)
  if (total === 0) return `no active backend seen in ${w.samples} samples`
  return (
    entries
      .slice(0, top)
      .map(([k, n]) => `${k} ${((n / total) * 100).toFixed(0)}%`)
      .join(", ") + ` (${(total / Math.max(1, w.samples)).toFixed(1)} active on average)`
  )
}

// ── The server's WAL ─────────────────────────────────────────────────────────────────────────────────────

export interface WalUse {
  /** Server-wide (every database's commits count): WAL flushes (fdatasync), writes, bytes; this database's committed transactions. */
  readonly syncs: number
  readonly writes: number
  readonly bytes: number
  readonly commits: number
  readonly ms: number
}

const walCounters = async (sql: Sql) => {
  const [row] = await sql.unsafe<{ syncs: string; writes: string; bytes: string; commits: string }[]>(
    `SELECT w.wal_sync AS syncs, w.wal_write AS writes, w.wal_bytes AS bytes, d.xact_commit AS commits
       FROM pg_stat_wal w, pg_stat_database d WHERE d.datname = current_database()`,
  )
  return {
    syncs: Number(row?.syncs),
    writes: Number(row?.writes),
    bytes: Number(row?.bytes),
    commits: Number(row?.commits),
    at: performance.now(),
  }
}

/** Start counting WAL flushes and commits; `stop` gives the deltas (undefined if pg_stat_wal is not there). */
export const measureWal = async (sql: Sql) => {
  const first = await walCounters(sql).catch(() => undefined)
  return {
    stop: async (): Promise<WalUse | undefined> => {
      // Backends report their counters at most once a second, and when idle only after a while: the caller
      // reads this once the connections that did the work have closed (a backend reports as it exits).
      await pause(300)
      const end = await walCounters(sql).catch(() => undefined)
      if (!first || !end) return undefined
      return {
        syncs: end.syncs - first.syncs,
        writes: end.writes - first.writes,
        bytes: end.bytes - first.bytes,
        commits: end.commits - first.commits,
        ms: end.at - first.at,
      }
    },
  }
}

// ── The machine's CPU ────────────────────────────────────────────────────────────────────────────────────

const clockTicks = 100 // USER_HZ on Linux

const machineTicks = (): { busy: number; total: number } | undefined => {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? ""
    const [, ...fields] = line.trim().split(/\s+/)
    const n = fields.map(Number)
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0)
    const idle = (n[3] ?? 0) + (n[4] ?? 0)
    return { busy: total - idle, total }
  } catch {
    return undefined
  }
}

/**
 * CPU ticks of the Postgres server's processes (every process named `postgres`: all of the server, also
 * other databases' load), sampled every `everyMs` so that backends that exit meanwhile still count: each
 * process contributes its last sample minus its first (or minus zero when it was born meanwhile).
 */
const postgresCpu = (everyMs = 250) => {
  const first = new Map<number, number>()
  const last = new Map<number, number>()
  const others = new Set<number>()
  let ok = true
  const sample = (initial: boolean) => {
    try {
      for (const name of readdirSync("/proc")) {
        if (!/^\d+$/.test(name)) continue
        const pid = Number(name)
        if (others.has(pid)) continue
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
          const close = stat.lastIndexOf(")")
          if (stat.slice(stat.indexOf("(") + 1, close) !== "postgres") {
            others.add(pid)
            continue
          }
          const rest = stat.slice(close + 2).split(" ")
          const ticks = Number(rest[11]) + Number(rest[12]) // utime, stime (fields 14 and 15)
          if (!first.has(pid)) first.set(pid, initial ? ticks : 0)
          last.set(pid, ticks)
        } catch {
          // gone meanwhile
        }
      }
    } catch {
      ok = false
    }
  }
  sample(true)
  const timer = setInterval(() => sample(false), everyMs)
  return {
    /** CPU seconds since the start per process, or undefined off Linux. */
    stop: (): Map<number, number> | undefined => {
      clearInterval(timer)
      sample(false)
      if (!ok) return undefined
      return new Map([...last].map(([pid, end]) => [pid, (end - (first.get(pid) ?? 0)) / clockTicks]))
    },
  }
}

export interface CpuUse {
  readonly wallMs: number
  /** Share of all CPUs busy (0..cpus), from /proc/stat: 1.6 means 1.6 cores' worth. */
  readonly machineCores: number | undefined
  /** Cores' worth used by the Postgres server's processes (any database: also others' load). */
  readonly postgresCores: number | undefined
  /** Of which the backends that worked on our schema (see `attribute`); the rest is WAL writer, checkpointer, others. */
  readonly backendCores?: number | undefined
  /** Cores' worth used by this (the bench) process. */
  readonly benchCores: number
}

/** A CPU measurement, with each Postgres process's CPU seconds (to attribute backends to us). */
export interface CpuSample {
  readonly use: CpuUse
  readonly postgresSeconds: ReadonlyMap<number, number> | undefined
}

/** The measurement, with the CPU of the backends seen working on our schema (`Waits.pids`) counted apart. */
export const attribute = (sample: CpuSample, pids: ReadonlyArray<number>): CpuUse => {
  if (!sample.postgresSeconds) return sample.use
  const seconds = pids.reduce((a, pid) => a + (sample.postgresSeconds?.get(pid) ?? 0), 0)
  return { ...sample.use, backendCores: seconds / (sample.use.wallMs / 1000) }
}

/**
 * Start measuring CPU; `stop` (call it once) gives what was used meanwhile. Not available off Linux
 * (undefined fields). It reads /proc every 250 ms meanwhile, which costs this process a little.
 */
export const measureCpu = () => {
  const t0 = performance.now()
  const m0 = machineTicks()
  const pg = postgresCpu()
  const b0 = process.cpuUsage()
  return {
    stop: (): CpuSample => {
      const wallMs = performance.now() - t0
      const m1 = machineTicks()
      const p = pg.stop()
      const b = process.cpuUsage(b0)
      const cores = (seconds: number) => seconds / (wallMs / 1000)
      const postgresSeconds = p === undefined ? undefined : [...p.values()].reduce((a, x) => a + x, 0)
      return {
        use: {
          wallMs,
          machineCores:
            m0 && m1 && m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * cpuCount() : undefined,
          postgresCores: postgresSeconds === undefined ? undefined : cores(postgresSeconds),
          benchCores: cores((b.user + b.system) / 1e6),
        },
        postgresSeconds: p,
      }
    },
  }
}

const cpuCount = () => {
  try {
    return readFileSync("/proc/stat", "utf8")
      .split("\n")
      .filter((l) => /^cpu\d+ /.test(l)).length
  } catch {
    return 1
  }
}

export const fmtCores = (n: number | undefined) => (n === undefined ? "?" : n.toFixed(2))
