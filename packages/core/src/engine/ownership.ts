/**
 * The step gate: no step body starts unless this executor holds its lease and, since the last lapse of that
 * lease, has confirmed in the store that it still owns the workflow. A lapse (the process was paused or cut
 * off past its lease) bumps the lease's generation; an execution confirmed under an older generation, or
 * created after a lapse from a store answer that may predate it (a create or claim whose reply arrived
 * late), reads its workflow once before its next step body, and stops if the workflow moved on.
 */
import type { Execution } from "./Execution.ts"
import type { Host } from "./Host.ts"
import type { Lease } from "./Lease.ts"

/** What an execution starts with: trusted while no lapse ever happened here, else to be confirmed. */
export const initialConfirmation = (lease: Lease | undefined): number =>
  lease === undefined || lease.generation === 0 ? 0 : -1

/**
 * The gate, checked again synchronously right before a step body is called: the gate resolved some turns
 * earlier, and a process stopped in between (SIGSTOP, a long GC, a blocked event loop) may wake past its
 * lease. Only synchronous code then separates this check from the body.
 */
export const stepMayStart = (lease: Lease | undefined, exec: Execution): boolean =>
  lease === undefined || (lease.held() && exec.confirmedGeneration >= lease.generation)

export const stepGate = async (
  host: Pick<Host, "store" | "storeCall" | "executorId">,
  lease: Lease | undefined,
  exec: Execution | undefined,
): Promise<void> => {
  if (!lease) return
  await lease.gate()
  if (!exec || exec.confirmedGeneration >= lease.generation) return
  const generation = lease.generation
  const record = await host.storeCall(host.store.getWorkflow(exec.id))
  if (record && record.status === "PENDING" && record.epoch === exec.epoch && record.executorId === host.executorId) {
    exec.confirmedGeneration = Math.max(exec.confirmedGeneration, generation)
    return
  }
  exec.stop(record?.status === "CANCELLED" ? "cancelled" : "fenced")
}
