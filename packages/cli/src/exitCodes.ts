/**
 * The exit codes of `durably`, which scripts can rely on (docs/cli.md lists them). Every failure prints
 * one line on stderr; a stack trace only with `DURABLY_DEBUG=1`.
 */
export const ExitCode = {
  /** Done. */
  ok: 0,
  /** Something unexpected failed (a bug, or an error the CLI has no better code for). */
  failure: 1,
  /** The command line is wrong: unknown command or flag, a malformed filter, duration, date or cursor. */
  usage: 2,
  /** What the command names does not exist: an unknown workflow id, schedule or step. */
  notFound: 3,
  /** The store refused the action in the current state, e.g. resuming a workflow that is running. */
  refused: 4,
  /** The database cannot be reached or used: connection failed, authentication, schema too new. */
  database: 5,
} as const

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** A failure the CLI reports as one line on stderr with its exit code. */
export class CliFailure extends Error {
  readonly code: ExitCode
  constructor(code: ExitCode, message: string, options?: { readonly cause?: unknown }) {
    super(message, options)
    this.name = "CliFailure"
    this.code = code
  }
}

/** A wrong command line (exit code 2). */
export const usageError = (message: string): CliFailure => new CliFailure(ExitCode.usage, message)
