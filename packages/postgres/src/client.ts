/**
 * The little the stores need from a SQL connection: parameterised queries, transactions, and closing. Both
 * postgres.js and PGlite fit it, so one set of queries serves the server and the embedded store.
 */
export type Row = Record<string, unknown>

export interface SqlClient {
  /** Run one parameterised statement. */
  readonly query: <R extends Row = Row>(text: string, params?: ReadonlyArray<unknown>) => Promise<R[]>
  /** Run several statements with no parameters (migrations). */
  readonly exec: (text: string) => Promise<void>
  /** Run `fn` in a transaction on one connection; commit when it resolves, roll back when it throws. */
  readonly transaction: <A>(fn: (tx: SqlClient) => Promise<A>) => Promise<A>
  readonly close: () => Promise<void>
  /** Drop the connections so the next query opens fresh ones (after a query hung on a dead connection). */
  readonly reset?: () => void
  /** Where it connects, for error messages (never the password). */
  readonly describe: string
}
