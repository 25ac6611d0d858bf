/**
 * Code versioning inside one workflow: `ctx.patched(name)` and `ctx.deprecatePatch(name)`.
 *
 * A patch is an operation of its own kind, recorded by executions that take the new branch. A replay whose
 * history has something else at that position was recorded before the patch existed, so it keeps the old
 * branch and the patch takes no position (the old history lines up). An execution that reaches the patch
 * live (a new one, or an old one past the end of its history) records it and takes the new branch.
 */
import type { Execution } from "./Execution.ts"
import { validateName } from "../workflow.ts"

const isPatch = (exec: Execution, name: string) => {
  const cp = exec.recordedAt(exec.nextPosition)
  return cp === undefined ? undefined : cp.kind === "patch" && cp.name === name
}

/** True: take the new code path (and it is recorded); false: this replay predates the patch. */
export const patched = async (exec: Execution, name: string): Promise<boolean> => {
  exec.guard("patched")
  validateName(name, "ctx.patched: the patch name")
  if (isPatch(exec, name) === false) return false
  const outcome = await exec.operation<boolean>("patch", name, {}, () =>
    Promise.resolve({ output: exec.encode(true, undefined, `patch ${name}`) }),
  )
  return outcome.ok
}

/**
 * Retiring a patch, once no workflow that predates it is left: the old branch is deleted and the call stays,
 * so that histories recorded with the patch (and those without) both replay. New executions record nothing.
 */
export const deprecatePatch = async (exec: Execution, name: string): Promise<void> => {
  exec.guard("deprecatePatch")
  validateName(name, "ctx.deprecatePatch: the patch name")
  if (isPatch(exec, name) === true) await exec.operation("patch", name, {}, () => Promise.resolve({}))
}
