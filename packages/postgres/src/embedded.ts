/**
 * @durably/postgres/embedded — Durably on embedded Postgres (PGlite) in a directory: zero setup, the same
 * migrations and the same statements as the server store.
 *
 * ```ts
 * import { embeddedStore } from "@durably/postgres/embedded"
 * const durably = await Durably.launch({ store: embeddedStore({ dir: ".durably" }), workflows: [checkout] })
 * ```
 *
 * One process at a time: the store holds a lock file in the directory while it is open, and a second
 * process (or a second store in this process) is refused with `DirectoryLocked`, naming the owner. A lock
 * left by a process that died (SIGKILL, power loss) is taken over. Every commit is written to the
 * operating system before it returns, so committed work survives the process being killed; PGlite does not
 * fsync, so an operating-system crash or power cut may lose the last commits.
 *
 * Needs `@electric-sql/pglite` (an optional peer dependency), which is loaded only when this store opens.
 */
import { join } from "node:path"
import { InvalidArgument, type Store } from "@durably/core"
import type { SqlClient } from "./client.ts"
import { lockDirectory } from "./dirLock.ts"
import { migrateWith } from "./migrate.ts"
import { EmbeddedStoreError, pgliteClient } from "./pgliteClient.ts"
import { optionsObject, validateDir, validateSchema } from "./options.ts"
import { makeSqlStore } from "./sqlStore.ts"

export { DirectoryLocked } from "./dirLock.ts"
export { EmbeddedStoreError } from "./pgliteClient.ts"

export interface EmbeddedStoreOptions {
  /**
   * The directory, created if missing: PGlite's files go in `<dir>/pgdata`, the lock in `<dir>/durably.lock`.
   * Default ".durably" (relative to the working directory).
   */
  readonly dir?: string
  /** The system schema. Default "durably". */
  readonly schema?: string
  /**
   * @deprecated Ignored: the embedded store is used by one process only, and wakes its waiters in-process
   * as soon as each write commits, so it never polls.
   */
  readonly pollInterval?: number
}

const loadPGlite = async () => {
  try {
    return await import("@electric-sql/pglite")
  } catch (cause) {
    const code = (cause as { code?: unknown } | null)?.code
    const missing = code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND"
    if (missing && String((cause as Error).message).includes("@electric-sql/pglite"))
      throw new EmbeddedStoreError({
        reason: "embeddedStore needs PGlite, which is not installed: npm i @electric-sql/pglite",
        cause,
      })
    throw cause
  }
}

/** The directory's lock; a path this platform finds too long (macOS allows 1,024 bytes) is the caller's option. */
const lockedDirectory = (dir: string) => {
  try {
    return lockDirectory(dir)
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENAMETOOLONG")
      throw new InvalidArgument({
        reason: `embeddedStore: dir is too long a path for this file system (${dir.length} characters)`,
      })
    throw e
  }
}

/**
 * `embeddedStore({ dir: ".durably" })`: takes the directory's lock at once (throws `DirectoryLocked` if a
 * live process has it), then opens PGlite and applies the migrations before the first statement. Closing
 * the store (the engine's `shutdown()` does) closes PGlite and releases the lock.
 */
export const embeddedStore = (given?: EmbeddedStoreOptions): Store => {
  const options = optionsObject(given, "embeddedStore")
  const schema = validateSchema(options.schema ?? "durably")
  const dir = validateDir(options.dir)
  const describe = `embedded Postgres (PGlite) in ${dir}`
  const lock = lockedDirectory(dir)
  // A process that exits without closing the store still leaves no lock behind.
  process.on("exit", lock.release)

  let closed = false
  let opened: Promise<SqlClient> | undefined
  const open = (): Promise<SqlClient> => {
    if (closed) return Promise.reject(new EmbeddedStoreError({ reason: `the embedded store (${describe}) is closed` }))
    return (opened ??= (async () => {
      const pglite = await loadPGlite()
      try {
        return pgliteClient(await pglite.PGlite.create(join(dir, "pgdata")), describe, pglite)
      } catch (cause) {
        throw new EmbeddedStoreError({
          reason: `cannot open ${describe}: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause,
        })
      }
    })())
  }
  // Opens on first use, so that building the store stays synchronous.
  const client: SqlClient = {
    describe,
    query: async (text, params) => (await open()).query(text, params),
    exec: async (text) => (await open()).exec(text),
    transaction: async (fn) => (await open()).transaction(fn),
    close: async () => undefined,
  }

  let ready: Promise<void> | undefined
  let closing: Promise<void> | undefined
  return makeSqlStore({
    kind: "embedded",
    client,
    schema,
    ready: () => (ready ??= open().then((c) => migrateWith(c, schema).then(() => undefined))),
    onClose: () =>
      (closing ??= (async () => {
        closed = true
        try {
          const c = await opened?.catch(() => undefined)
          await c?.close()
        } finally {
          lock.release()
          process.off("exit", lock.release)
        }
      })()),
  })
}
