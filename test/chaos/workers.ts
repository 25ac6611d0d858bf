/**
 * The soak's worker processes: a fixed number of slots, each running one worker at a time. A worker the fault
 * loop kills is restarted at once, with the same executor id or a new one; a worker that dies on its own is
 * restarted too, and its death recorded (the soak reports it: a worker must survive every fault it is dealt).
 */
import { spawnFixture, type FixtureProcess } from "../durability/support/fixtureProcess.ts"
import { waitFor } from "../durability/support/wait.ts"
import type { ProcessLife } from "./limits.ts"
import type { WorkerConfig, WorkerEvents } from "./protocol.ts"

export interface Slot {
  readonly index: number
  executorId: string
  generation: number
  proc: FixtureProcess<WorkerEvents>
}

export interface UnexpectedExit {
  readonly executor: string
  readonly pid: number
  readonly atMs: number
  readonly exit: string
  readonly stderr: string
}

interface MutableLife {
  pid: number
  executor: string
  diedMs?: number
  frozen: Array<{ fromMs: number; toMs: number }>
}

export interface Workers {
  readonly slots: ReadonlyArray<Slot>
  /** Every worker process so far, by pid: when it died, when it was frozen. */
  readonly lives: ReadonlyMap<number, ProcessLife>
  readonly unexpected: ReadonlyArray<UnexpectedExit>
  /** Workers that exited before READY (a launch fails fast while the database is down) and were retried. */
  readonly launchFailures: () => number
  /** Every worker's warnings and errors so far. */
  readonly logs: () => Array<{ pid: number; level: string; message: string; workflowId?: string }>
  /** SIGKILL the slot's worker and start another (a new executor id when `newId`). */
  readonly kill: (slot: Slot, newId: boolean) => Promise<void>
  /** SIGSTOP the slot's worker for `ms`, then SIGCONT. */
  readonly freeze: (slot: Slot, ms: number) => Promise<void>
  /** Wait until every slot's worker said READY. */
  readonly ready: () => Promise<void>
  /** SIGTERM them all (after a SIGCONT) and wait. */
  readonly stop: () => Promise<void>
}

export const startWorkers = (
  count: number,
  config: Omit<WorkerConfig, "executorId">,
  log: (line: string) => void,
): Workers => {
  const lives = new Map<number, MutableLife>()
  const unexpected: UnexpectedExit[] = []
  const expectedExit = new Set<number>()
  let launchFailures = 0
  let stopping = false

  const spawn = (slot: Pick<Slot, "executorId" | "index">): FixtureProcess<WorkerEvents> => {
    const proc = spawnFixture<WorkerEvents>(
      "../../chaos/worker.ts",
      { ...config, executorId: slot.executorId } satisfies WorkerConfig,
      `worker ${slot.executorId}`,
    )
    lives.set(proc.pid, { pid: proc.pid, executor: slot.executorId, frozen: [] })
    all.push(proc)
    void proc.exit.then((exit) => {
      const life = lives.get(proc.pid)!
      life.diedMs ??= Date.now()
      if (expectedExit.has(proc.pid) || stopping) return
      const s = slots[slot.index]!
      if (proc.events("READY").length === 0) {
        // Launch fails fast while the database is down (by design): try again shortly.
        launchFailures++
        setTimeout(() => {
          if (s.proc === proc && !stopping) s.proc = spawn(s)
        }, 300)
        return
      }
      unexpected.push({
        executor: slot.executorId,
        pid: proc.pid,
        atMs: life.diedMs,
        exit: JSON.stringify(exit),
        stderr: proc.stderr().slice(-2000),
      })
      log(`worker ${slot.executorId} (pid ${proc.pid}) exited on its own ${JSON.stringify(exit)}; restarting it`)
      if (s.proc === proc) s.proc = spawn(s)
    })
    return proc
  }

  const all: Array<FixtureProcess<WorkerEvents>> = []
  const slots: Slot[] = []
  for (let i = 0; i < count; i++) {
    const executorId = `w${i}`
    slots.push({ index: i, executorId, generation: 0, proc: spawn({ index: i, executorId }) })
  }

  return {
    slots,
    lives,
    unexpected,
    launchFailures: () => launchFailures,
    logs: () => all.flatMap((p) => p.events("LOG").map((l) => ({ pid: p.pid, ...l }))),
    kill: async (slot, newId) => {
      const proc = slot.proc
      expectedExit.add(proc.pid)
      const at = Date.now()
      proc.signal("SIGKILL")
      await proc.exit
      lives.get(proc.pid)!.diedMs = at
      if (newId) slot.executorId = `w${slot.index}.${++slot.generation}`
      slot.proc = spawn(slot)
    },
    freeze: async (slot, ms) => {
      const proc = slot.proc
      const fromMs = Date.now()
      proc.signal("SIGSTOP")
      await new Promise((r) => setTimeout(r, ms))
      proc.signal("SIGCONT")
      lives.get(proc.pid)?.frozen.push({ fromMs, toMs: Date.now() })
    },
    ready: async () => {
      await waitFor("every worker to be READY", () => slots.every((s) => s.proc.events("READY").length > 0), {
        timeoutMs: 120_000,
        detail: () => slots.map((s) => s.proc.tail(5)).join("\n"),
      })
    },
    stop: async () => {
      stopping = true
      await Promise.all(slots.map((s) => s.proc.stop(15_000)))
    },
  }
}
