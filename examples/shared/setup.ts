/**
 * What every example starts with: a store (the embedded one in .durably/<name>, wiped so runs repeat; or
 * Postgres when DATABASE_URL is set), a timestamped narrator, and a logger that narrates what workflows say
 * through ctx.log and sends the engine's warnings to stderr, and a launch that says what it waits for.
 */
import { rmSync } from "node:fs"
import { relative } from "node:path"
import { fileURLToPath } from "node:url"
import {
  consoleLogger,
  Durably,
  type LaunchOptions,
  type LogSink,
  type Store,
  type WorkflowDefinition,
} from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { embeddedStore } from "@durably/postgres/embedded"

type AnyPromiseWorkflow = WorkflowDefinition<any, any, any, never>

export interface ExampleSetup {
  readonly store: Store
  /** A suffix for workflow ids: Postgres is not wiped between runs. */
  readonly run: string
  readonly say: (line: string) => void
  readonly logger: LogSink
  /**
   * `Durably.launch` with this store and (unless the options name another) this logger, saying first what the
   * wait is for: the embedded store's first open creates its database (PGlite's initdb), several silent seconds.
   */
  readonly launch: <W extends AnyPromiseWorkflow>(options: Omit<LaunchOptions<W>, "store">) => Promise<Durably>
}

export const setUpExample = (name: string, title: string): ExampleSetup => {
  const t0 = Date.now()
  const say = (line: string) => console.log(`${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s  ${line}`)
  const url = process.env["DATABASE_URL"]
  const dir = fileURLToPath(new URL(`../../.durably/${name}`, import.meta.url))
  if (!url) rmSync(dir, { recursive: true, force: true })
  const store = url ? postgresStore({ url }) : embeddedStore({ dir })
  const warnings = consoleLogger("warn")
  const logger: LogSink = (e) =>
    e.level === "info" && e.workflowId
      ? say(`${e.workflowId}${e.step ? ` [${e.step}]` : ""}: ${e.message}`)
      : warnings(e)
  console.log(`Durably example: ${title}`)
  console.log(
    url
      ? "Store: Postgres at DATABASE_URL\n"
      : `Store: embedded Postgres (PGlite) in ${relative(process.cwd(), dir)}\n`,
  )
  const launch = <W extends AnyPromiseWorkflow>(options: Omit<LaunchOptions<W>, "store">) => {
    say(
      url
        ? "launching: connecting to Postgres and applying migrations"
        : "launching: creating the embedded database (PGlite's initdb, several seconds) and applying migrations",
    )
    return Durably.launch({ logger, ...options, store })
  }
  return { store, run: url ? `-${Date.now().toString(36)}` : "", say, logger, launch }
}
