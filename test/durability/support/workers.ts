/** Worker processes under test: spawn them, read their events, signal them, and never leave one behind. */
import { spawn, type ChildProcess } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { EmbeddedWorkerConfig, EventTag, Events, WorkerConfig } from "./protocol.ts"
import { waitFor, type WaitOptions } from "./wait.ts"

const workerScript = fileURLToPath(new URL("../fixtures/worker.ts", import.meta.url))
const embeddedWorkerScript = fileURLToPath(new URL("../fixtures/embeddedWorker.ts", import.meta.url))

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface Worker<C extends { readonly executorId: string } = WorkerConfig> {
  readonly pid: number
  readonly config: C
  /** Every stdout line so far. */
  readonly lines: ReadonlyArray<string>
  readonly stderr: () => string
  readonly exit: Promise<Exit>
  readonly exited: () => Exit | undefined
  /** The events with this tag so far, in order. */
  readonly events: <T extends EventTag>(tag: T) => Array<Events[T]>
  readonly waitForEvent: <T extends EventTag>(
    tag: T,
    predicate?: (e: Events[T]) => boolean,
    options?: WaitOptions,
  ) => Promise<Events[T]>
  readonly signal: (signal: NodeJS.Signals) => void
  /** Kernel state letter from /proc (R, S, T for stopped, Z, …), or undefined once it is gone. */
  readonly state: () => string | undefined
  /** SIGTERM (graceful shutdown), then SIGKILL if it has not exited after `graceMs`. */
  readonly stop: (graceMs?: number) => Promise<Exit>
  /** Last lines of output, for failure messages. */
  readonly tail: (n?: number) => string
}

const live = new Set<{ readonly signal: (s: NodeJS.Signals) => void; readonly exit: Promise<Exit> }>()

/** A worker process on Postgres (fixtures/worker.ts). */
export const spawnWorker = (config: WorkerConfig): Worker => spawnScript(workerScript, config)

/** A worker process on the embedded store (fixtures/embeddedWorker.ts). */
export const spawnEmbeddedWorker = (config: EmbeddedWorkerConfig): Worker<EmbeddedWorkerConfig> =>
  spawnScript(embeddedWorkerScript, config)

const spawnScript = <C extends { readonly executorId: string }>(script: string, config: C): Worker<C> => {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--conditions=@durably/source", script, JSON.stringify(config)],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NODE_NO_WARNINGS: "1" },
    },
  )
  const pid = child.pid
  if (pid === undefined) throw new Error("could not spawn the worker process")
  const lines: string[] = []
  let pending = ""
  let err = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk
    const parts = pending.split("\n")
    pending = parts.pop() ?? ""
    lines.push(...parts)
  })
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk
    if (err.length > 200_000) err = err.slice(-100_000)
  })
  let exitInfo: Exit | undefined
  const exit = new Promise<Exit>((resolve) =>
    child.on("exit", (code, signal) => {
      exitInfo = { code, signal }
      live.delete(worker)
      resolve(exitInfo)
    }),
  )
  const events = <T extends EventTag>(tag: T): Array<Events[T]> =>
    lines.filter((l) => l.startsWith(`${tag} `)).map((l) => JSON.parse(l.slice(tag.length + 1)) as Events[T])
  const tail = (n = 30) =>
    `\n--- last stdout lines of worker ${pid} (${config.executorId}) ---\n${lines
      .filter((l) => !l.startsWith("BEAT "))
      .slice(-n)
      .join("\n")}\n--- stderr ---\n${err.slice(-3000)}`
  const worker: Worker<C> = {
    pid,
    config,
    lines,
    stderr: () => err,
    exit,
    exited: () => exitInfo,
    events,
    waitForEvent: (tag, predicate = () => true, options = {}) =>
      waitFor(
        `${tag} from worker ${pid} (${config.executorId})`,
        () => {
          const found = events(tag).find(predicate)
          if (found) return found
          if (exitInfo) throw new Error(`worker ${pid} exited (${JSON.stringify(exitInfo)}) before ${tag}${tail()}`)
          return undefined
        },
        { intervalMs: 20, ...options, detail: options.detail ?? tail },
      ),
    signal: (signal) => {
      if (!exitInfo) process.kill(pid, signal)
    },
    state: () => {
      try {
        // "pid (comm) S ..." — the state follows the last ")".
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
        return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]
      } catch {
        return undefined
      }
    },
    stop: async (graceMs = 10_000) => {
      if (exitInfo) return exitInfo
      process.kill(pid, "SIGCONT")
      process.kill(pid, "SIGTERM")
      const timer = setTimeout(() => {
        if (!exitInfo) process.kill(pid, "SIGKILL")
      }, graceMs)
      try {
        return await exit
      } finally {
        clearTimeout(timer)
      }
    },
    tail,
  }
  live.add(worker)
  return worker
}

/** SIGKILL every worker this test process started that is still running (after a failure). */
export const killAllWorkers = async (): Promise<void> => {
  const all = [...live]
  for (const w of all) {
    w.signal("SIGCONT")
    w.signal("SIGKILL")
  }
  await Promise.all(all.map((w) => w.exit))
}
