/**
 * SqlClient over PGlite, which has exactly one connection.
 *
 * Everything on the root client runs one at a time in arrival order, through a queue of our own (so
 * correctness does not rest on PGlite's internal mutexes, which differ between versions). A transaction
 * holds the queue from BEGIN to COMMIT, and its own statements go straight to the connection. So a query
 * from another workflow waits for an open transaction, and a transaction never waits for a query queued
 * behind it. The one way left to deadlock is to call the root client from inside a transaction's callback
 * (it would wait for the transaction, which waits for it): that call fails at once instead, with a message
 * that says to use the transaction's client.
 *
 * "Inside" is told by an AsyncLocalStorage, i.e. by async context: code that the callback starts and that
 * keeps running after it returned is no longer inside once the callback settles.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { Data } from "effect"
import type { Row, SqlClient } from "./client.ts"
import { preparedStatements, type PGliteModuleLike, type PGliteProtocolLike } from "./pglitePrepared.ts"

/** The embedded store cannot do what was asked (PGlite missing, store closed, misuse of its one connection). */
export class EmbeddedStoreError extends Data.TaggedError("EmbeddedStoreError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return this.reason
  }
}

/** What is used of a PGlite transaction (structural, so that these types never load PGlite). */
export interface PGliteTransactionLike {
  query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }>
  exec(text: string): Promise<unknown>
}

/** What is used of a PGlite instance. */
export interface PGliteLike extends PGliteTransactionLike {
  transaction<T>(fn: (tx: PGliteTransactionLike) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** A FIFO queue: each task starts when the one before it has settled. */
const serialQueue = () => {
  let tail: Promise<unknown> = Promise.resolve()
  return <A>(task: () => Promise<A>): Promise<A> => {
    const run = tail.then(task, task)
    tail = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }
}

interface OpenTransaction {
  open: boolean
}

/**
 * `module`: the PGlite module, for prepared statements on the root client (pglitePrepared.ts); without it every
 * statement takes PGlite's own `query`. Statements inside a transaction always do.
 */
export const pgliteClient = (
  pg: PGliteLike & Partial<PGliteProtocolLike>,
  describe: string,
  module?: PGliteModuleLike,
): SqlClient => {
  const queue = serialQueue()
  // Checked at run time too: the peer range admits PGlite versions that may lack a piece (the plain path serves).
  const prepared =
    typeof module?.protocol?.serialize?.execute === "function" &&
    typeof module.parse?.parseResults === "function" &&
    pg.execProtocol &&
    pg.serializers &&
    pg.parsers
      ? preparedStatements(pg as PGliteProtocolLike, module)
      : undefined
  const inside = new AsyncLocalStorage<OpenTransaction>()
  let closing: Promise<void> | undefined

  const guard = (what: string) => {
    if (closing) throw new EmbeddedStoreError({ reason: `${what}: the embedded store (${describe}) is closed` })
    if (inside.getStore()?.open)
      throw new EmbeddedStoreError({
        reason:
          `${what} was called on the embedded store from inside one of its own transactions. PGlite has a single ` +
          "connection and the transaction holds it until it ends, so this would wait forever: inside a " +
          "transaction, run queries on the client the transaction callback receives.",
      })
  }

  const txClient = (tx: PGliteTransactionLike, state: OpenTransaction): SqlClient => {
    const check = (what: string) => {
      if (!state.open)
        throw new EmbeddedStoreError({ reason: `${what} on a transaction that has already ended (${describe})` })
    }
    return {
      describe,
      query: async <R extends Row>(text: string, params: ReadonlyArray<unknown> = []) => {
        check("query")
        return (await tx.query<R>(text, [...params])).rows
      },
      exec: async (text) => {
        check("exec")
        await tx.exec(text)
      },
      transaction: async () => {
        throw new EmbeddedStoreError({ reason: "nested transactions are not supported" })
      },
      close: async () => undefined,
    }
  }

  return {
    describe,
    query: async <R extends Row>(text: string, params: ReadonlyArray<unknown> = []) => {
      guard("query")
      return queue(async () =>
        prepared?.handles(text) ? prepared.query<R>(text, params) : (await pg.query<R>(text, [...params])).rows,
      )
    },
    exec: async (text) => {
      guard("exec")
      await queue(() => pg.exec(text))
    },
    transaction: async <A>(fn: (tx: SqlClient) => Promise<A>) => {
      guard("transaction")
      return queue(() =>
        pg.transaction((tx) => {
          const state: OpenTransaction = { open: true }
          return inside.run(state, async () => {
            try {
              return await fn(txClient(tx, state))
            } finally {
              state.open = false
            }
          })
        }),
      )
    },
    // Runs after everything already queued; anything asked for later is refused.
    close: () => (closing ??= queue(() => pg.close())),
  }
}
