/**
 * From any error to the one stderr line and exit code the CLI reports. Typed errors of Durably keep their
 * own message (they are written for people); anything else is a failure with its message, never a stack
 * unless DURABLY_DEBUG=1.
 */
import { CliFailure, ExitCode } from "./exitCodes.ts"

const byTag: Record<string, ExitCode> = {
  InvalidArgument: ExitCode.usage,
  InvalidCursor: ExitCode.usage,
  InvalidFilter: ExitCode.usage,
  // A message or input the serializer cannot take is the caller's, as an InvalidArgument is.
  SerializationError: ExitCode.usage,
  WorkflowNotFound: ExitCode.notFound,
  ScheduleNotFound: ExitCode.notFound,
  ScheduleExists: ExitCode.refused,
  StepNotFound: ExitCode.notFound,
  NotResumable: ExitCode.refused,
  InvalidState: ExitCode.refused,
  ConflictingWorkflowError: ExitCode.refused,
  DuplicateEnqueue: ExitCode.refused,
  QueueFull: ExitCode.refused,
  MigrationError: ExitCode.database,
  DirectoryLocked: ExitCode.database,
  EmbeddedStoreError: ExitCode.database,
}

const tagOf = (e: unknown): string | undefined => {
  const tag = (e as { _tag?: unknown } | null)?._tag
  return typeof tag === "string" ? tag : undefined
}

/** Postgres SQLSTATEs that mean "this database is not usable as Durably's" rather than a bug. */
const databaseStates = (code: string) =>
  code.startsWith("08") || code.startsWith("28") || code === "3D000" || code === "3F000" || code === "42P01"

const codeOf = (e: unknown): string | undefined => {
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code
    if (typeof code === "string") return code
  }
  return undefined
}

export interface Reported {
  readonly code: ExitCode
  readonly message: string
}

export const classify = (e: unknown): Reported => {
  if (e instanceof CliFailure) return { code: e.code, message: e.message }
  const tag = tagOf(e)
  const message = e instanceof Error ? e.message : String(e)
  if (tag && byTag[tag] !== undefined) return { code: byTag[tag], message }
  if (tag === "StoreError") {
    const kind = (e as { kind?: unknown }).kind
    const code = codeOf(e)
    if (code === "42P01" || code === "3F000")
      return {
        code: ExitCode.database,
        message: `${message} (is the schema migrated? run: durably migrate)`,
      }
    if (kind === "connection" || kind === "shutdown" || (code !== undefined && databaseStates(code)))
      return { code: ExitCode.database, message }
    return { code: ExitCode.failure, message }
  }
  const code = codeOf(e)
  if (code !== undefined && (databaseStates(code) || /^E[A-Z]+$/.test(code)))
    return { code: ExitCode.database, message }
  return { code: ExitCode.failure, message }
}
