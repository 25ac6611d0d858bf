/** What a command is: its place in the command tree, its declared arguments and flags, and its action. */
import type { DurablyClient, Store } from "@durably/core"
import type { ArgSpec, Flags, Parsed } from "./args.ts"
import type { Connection } from "./connection.ts"
import type { Io, Output } from "./output/output.ts"

export interface CommandContext {
  readonly parsed: Parsed
  readonly out: Output
  readonly io: Io
  /** The connection the global flags and environment name (a usage error if they name none). */
  readonly connection: () => Connection
  /** The store of that connection, opened once and closed when the command ends. */
  readonly store: () => Promise<Store>
  /** A client on that store (no workflow code), opened once and closed when the command ends. */
  readonly client: () => Promise<DurablyClient>
  /** Run `fn` when the command ends, success or not (closing what it opened). */
  readonly onExit: (fn: () => Promise<void>) => void
}

export interface Command {
  /** e.g. ["workflows", "list"] */
  readonly path: ReadonlyArray<string>
  readonly summary: string
  readonly details?: string
  readonly args?: ReadonlyArray<ArgSpec>
  readonly flags?: Flags
  /** Whether the command uses no database (so no connection flags are needed). */
  readonly offline?: boolean
  readonly run: (ctx: CommandContext) => Promise<void>
}

/** Summaries of the command groups, for `durably --help` and `durably <group> --help`. */
export interface Group {
  readonly name: string
  readonly summary: string
}
