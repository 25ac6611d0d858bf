/**
 * `transaction(ctx, name, async (sql) => …)`: database work that commits in the same transaction as its
 * checkpoint, so it happens exactly once. Retried on serialization failures and deadlocks, and on a lost
 * connection once it is known that the lost attempt did not commit; on replay the recorded result comes back
 * without touching your tables.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { FencedError, InvalidArgument, type Codec, type WorkflowContext } from "@durably/core"
import { executionOf, stepScope, validateInteger, validateName } from "@durably/core/internal"
import type { Row, SqlClient } from "./client.ts"
import { failureKind } from "./errors.ts"
import { sqlStoreInternals, type SqlStoreInternals } from "./sqlStore.ts"

/** The SQL handle inside a transaction: a tagged template (values become parameters) and plain queries. */
export interface SqlTransaction {
  <R extends Row = Row>(strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>): Promise<R[]>
  readonly query: <R extends Row = Row>(text: string, params?: ReadonlyArray<unknown>) => Promise<R[]>
}

export interface TransactionOptions<A> {
  /** Schema for the result. */
  readonly output?: Codec<A>
  /** Schema for the errors it throws, so the same class is revived on replay. */
  readonly error?: Codec<unknown>
  /** Attempts on serialization failure or deadlock. Default 10. A lost connection is retried until it is back. */
  readonly maxAttempts?: number
}

const userSql = (tx: SqlClient): SqlTransaction => {
  const tagged = <R extends Row = Row>(strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>) =>
    tx.query<R>(
      strings.reduce((text, part, i) => (i === 0 ? part : `${text}$${i}${part}`), ""),
      values,
    )
  return Object.assign(tagged, { query: tx.query })
}

export const transaction = async <A>(
  ctx: WorkflowContext,
  name: string,
  fn: (sql: SqlTransaction) => Promise<A>,
  options: TransactionOptions<A> = {},
): Promise<A> => {
  const exec = executionOf(ctx)
  if (!exec) throw new InvalidArgument({ reason: "transaction(ctx, …) needs the ctx of a running workflow" })
  validateName(name, "transaction: the name")
  if (typeof options !== "object" || options === null)
    throw new InvalidArgument({ reason: `transaction("${name}"): options must be an object` })
  const maxAttempts = validateInteger(options.maxAttempts ?? 10, `transaction("${name}"): maxAttempts`, 1, 1000)
  if (typeof fn !== "function")
    throw new InvalidArgument({ reason: `transaction("${name}"): the body must be a function` })
  const what = `transaction "${name}"`
  const outcome = await exec.operation<A>("transaction", name, options, async (stepId, _pending, prepare) => {
    // Asked for only when the body is to run: a recorded transaction replays on any store (the test kit's
    // verifyReplay replays on a scratch memory store).
    const internals = (exec.host.store as { [sqlStoreInternals]?: SqlStoreInternals })[sqlStoreInternals]
    if (!internals)
      throw new InvalidArgument({
        reason: `transaction("${name}") needs a SQL store (postgresStore or embeddedStore); this engine runs on the ${exec.host.store.kind} store`,
      })
    for (let attempt = 1; ; attempt++) {
      await exec.host.stepGate(exec)
      exec.checkAlive()
      try {
        const committed = await internals.client.transaction(async (tx) => {
          const value = await stepScope.run({ workflowId: exec.id, step: name }, () => fn(userSql(tx)))
          const done = prepare({ output: exec.encode(value, options.output, `${what} result`), attempts: attempt })
          return internals.writeCheckpointIn(tx, exec.id, exec.epoch, done)
        })
        return { committed }
      } catch (e) {
        if (e instanceof FencedError) throw exec.onWriteFailure(e)
        const kind = failureKind(e)
        if (kind === "connection" || kind === "shutdown") {
          // The commit may have reached the server before the connection broke: its checkpoint says so.
          const checkpoints = await exec.host.storeCall(exec.host.store.loadCheckpoints(exec.id))
          const committed = checkpoints.find((c) => c.stepId === stepId && c.state === "done")
          if (committed) return { committed }
          await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)))
          continue
        }
        if ((kind === "serialization" || kind === "deadlock") && attempt < maxAttempts) {
          await sleep(Math.min(1000, 5 * 2 ** attempt * (0.5 + Math.random())))
          continue
        }
        // The work rolled back: record the failure like a step's, so replay throws it again.
        return { error: exec.encodeError(e, options.error, what), attempts: attempt }
      }
    }
  })
  if (outcome.ok) return outcome.value
  throw outcome.error
}
