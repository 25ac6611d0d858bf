/**
 * Any fixture process, with its own event vocabulary: spawn `fixtures/<script>` with one JSON argument, read
 * its `TAG {json}` stdout lines (written by fixtures/say.ts), signal it (SIGSTOP included), and never leave
 * one behind. support/workers.ts builds the chain workers on it.
 */
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { waitFor, type WaitOptions } from "./wait.ts"

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface FixtureProcess<E extends object> {
  readonly pid: number
  readonly label: string
  /** Every stdout line so far. */
  readonly lines: ReadonlyArray<string>
  readonly stderr: () => string
  readonly exit: Promise<Exit>
  readonly exited: () => Exit | undefined
  /** The events with this tag so far, in order. */
  readonly events: <T extends keyof E & string>(tag: T) => Array<E[T]>
  /** The first event with this tag (matching the predicate); fails at once if the process exits first. */
  readonly waitForEvent: <T extends keyof E & string>(
    tag: T,
    predicate?: (e: E[T]) => boolean,
    options?: WaitOptions,
  ) => Promise<E[T]>
  readonly signal: (signal: NodeJS.Signals) => void
  /** Kernel state letter from /proc (R, S, T for stopped, Z, …), or undefined once it is gone. */
  readonly state: () => string | undefined
  /** SIGTERM (after a SIGCONT, in case it is stopped), then SIGKILL if it has not exited after `graceMs`. */
  readonly stop: (graceMs?: number) => Promise<Exit>
  /** Last lines of output, for failure messages. */
  readonly tail: (n?: number) => string
}

const live = new Set<FixtureProcess<object>>()

/** Start `fixtures/<script>` with `config` as its JSON argument. */
export const spawnFixture = <E extends object>(
  script: string,
  config: unknown,
  label: string,
  /** Lines left out of `tail` (e.g. heartbeats), to keep failure messages readable. */
  hideInTail: (line: string) => boolean = () => false,
): FixtureProcess<E> => {
  const path = fileURLToPath(new URL(`../fixtures/${script}`, import.meta.url))
  const child = spawn(process.execPath, ["--conditions=@durably/source", path, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
  })
  const pid = child.pid
  if (pid === undefined) throw new Error(`could not spawn ${script}`)
  const lines: string[] = []
  let pending = ""
  let err = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk
    const parts = pending.split("\n")
    pending = parts.pop() ?? ""
    lines.push(...parts)
  })
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk
    if (err.length > 200_000) err = err.slice(-100_000)
  })
  let exitInfo: Exit | undefined
  const exit = new Promise<Exit>((resolve) =>
    child.on("exit", (code, signal) => {
      exitInfo = { code, signal }
      live.delete(proc)
      resolve(exitInfo)
    }),
  )
  const events = <T extends keyof E & string>(tag: T): Array<E[T]> =>
    lines.filter((l) => l.startsWith(`${tag} `)).map((l) => JSON.parse(l.slice(tag.length + 1)) as E[T])
  const tail = (n = 30) =>
    `\n--- last stdout lines of ${label} (pid ${pid}) ---\n${lines
      .filter((l) => !hideInTail(l))
      .slice(-n)
      .join("\n")}\n--- stderr ---\n${err.slice(-3000)}`
  const proc: FixtureProcess<E> = {
    pid,
    label,
    lines,
    stderr: () => err,
    exit,
    exited: () => exitInfo,
    events,
    waitForEvent: (tag, predicate = () => true, options = {}) =>
      waitFor(
        `${tag} from ${label} (pid ${pid})`,
        () => {
          const found = events(tag).find(predicate)
          if (found) return found
          if (exitInfo)
            throw new Error(`${label} (pid ${pid}) exited (${JSON.stringify(exitInfo)}) before ${tag}${tail()}`)
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
  live.add(proc)
  return proc
}

/** SIGKILL every fixture process this test process started that is still running (after a failure). */
export const killAllFixtures = async (): Promise<void> => {
  const all = [...live]
  for (const p of all) p.signal("SIGKILL")
  await Promise.all(all.map((p) => p.exit))
}
