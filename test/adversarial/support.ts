/**
 * The adversarial suite's common parts: the three stores (memory, embedded PGlite, Postgres in a schema of its
 * own), the hostile values, and waits that are always bounded, so a hang fails a test instead of stalling it.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { memoryStore, type LogEntry, type LogSink, type Store } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { embeddedStore } from "@durably/postgres/embedded"
import { storableText } from "../../packages/core/src/validation.ts"
import { databaseUrl, dropSchema, freshSchema } from "../../packages/postgres/test/pg.ts"

export interface StoreKind {
  readonly name: "memory" | "embedded" | "postgres"
  /**
   * A fresh, empty store; `cleanup` drops what it made (a directory, a schema). `secret` is a password the
   * store holds (in its URL) that no error or log may show.
   */
  readonly make: () => Promise<{
    readonly store: Store
    readonly cleanup: () => Promise<void>
    readonly secret?: string
  }>
}

/** The URL with a password: the server's own, or one it never asks for (trust authentication ignores it). */
const withPassword = (url: string): { url: string; secret: string } => {
  const parsed = new URL(url)
  if (parsed.password !== "") return { url, secret: decodeURIComponent(parsed.password) }
  parsed.password = "adv-Sup3r-s3cret-pw"
  return { url: parsed.toString(), secret: "adv-Sup3r-s3cret-pw" }
}

export const storeKinds: ReadonlyArray<StoreKind> = [
  { name: "memory", make: () => Promise.resolve({ store: memoryStore(), cleanup: () => Promise.resolve() }) },
  {
    name: "embedded",
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), "durably-adversarial-"))
      return Promise.resolve({
        store: embeddedStore({ dir }),
        cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
      })
    },
  },
  {
    name: "postgres",
    make: async () => {
      const plain = await databaseUrl()
      const { url, secret } = withPassword(plain)
      const schema = freshSchema("adv")
      return { store: postgresStore({ url, schema, max: 4 }), cleanup: () => dropSchema(plain, schema), secret }
    },
  },
]

/** `p`, or a failure naming `what` after `ms`: every await in this suite is bounded. */
export const within = <A>(p: Promise<A>, what: string, ms = 20_000): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (a hang)`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** The rejection of `p` (bounded); fails when it resolves. */
export const rejection = async (p: Promise<unknown> | (() => unknown), what: string): Promise<unknown> => {
  try {
    await within(Promise.resolve().then(typeof p === "function" ? p : () => p), what)
  } catch (e) {
    if (e instanceof Error && e.message.includes("(a hang)")) throw e
    return e
  }
  throw new Error(`${what}: expected a rejection, but it succeeded`)
}

/** What a store holds, row by row: a refused call must change none of it. */
export interface Stored {
  readonly workflows: number
  readonly checkpoints: number
  readonly events: number
  readonly streamValues: number
  readonly streamCloses: number
  /** Messages the store accepted (every message row comes through sendMessage or sendFromWorkflow). */
  readonly messages: number
  readonly schedules: number
}

/**
 * The store, counting the messages it accepts (no port lists them: a message is only seen by receiving it),
 * and `stored()`, what it holds: workflows and each one's checkpoints, events and stream rows, and schedules.
 */
export const tracked = (store: Store): { readonly store: Store; readonly stored: () => Promise<Stored> } => {
  let messages = 0
  const sent = <R extends { readonly _tag: string }, E>(e: Effect.Effect<R, E>) =>
    Effect.tap(e, (r) => Effect.sync(() => (r._tag === "Sent" ? messages++ : undefined)))
  return {
    store: {
      ...store,
      sendMessage: (m) => sent(store.sendMessage(m)),
      sendFromWorkflow: (sender, epoch, m, cp) => sent(store.sendFromWorkflow(sender, epoch, m, cp)),
    },
    stored: async () => {
      const workflows = await Effect.runPromise(store.listWorkflows({ limit: 10_000 }))
      const schedules = (await Effect.runPromise(store.listSchedules())).length
      const rows = {
        workflows: workflows.length,
        checkpoints: 0,
        events: 0,
        streamValues: 0,
        streamCloses: 0,
        messages,
        schedules,
      }
      for (const w of workflows) {
        const h = await Effect.runPromise(store.management.history(w.id))
        rows.checkpoints += h.checkpoints.length
        rows.events += h.events.length
        rows.streamValues += h.streamValues.length
        rows.streamCloses += h.streamCloses.length
      }
      return rows
    },
  }
}

/** A logger that keeps every entry (debug included), for checking what reached the logs. */
export const captureLogs = (): { readonly logger: LogSink; readonly entries: LogEntry[] } => {
  const entries: LogEntry[] = []
  return { logger: (e) => void entries.push(e), entries }
}

/** Every string in a log entry, its fields and the errors in them (messages, stacks, causes), depth-bounded. */
const stringsIn = (v: unknown, out: string[] = [], depth = 0): string[] => {
  if (depth > 8) return out
  if (typeof v === "string") out.push(v)
  else if (v instanceof Error) {
    out.push(v.message, v.stack ?? "")
    stringsIn({ ...v, cause: v.cause }, out, depth + 1)
  } else if (typeof v === "object" && v !== null) for (const x of Object.values(v)) stringsIn(x, out, depth + 1)
  return out
}

/**
 * What is wrong with these log entries, if anything: a secret shown, a hostile value echoed whole (one longer
 * than an echo), a NUL or lone surrogate anywhere, or a message an error could not safely echo.
 */
export const logProblems = (entries: ReadonlyArray<LogEntry>, secrets: ReadonlyArray<string>): string[] => {
  const long = hostileStrings.map(([, v]) => v).filter((v) => v.length > 40)
  const problems: string[] = []
  for (const e of entries) {
    const where = `${e.level} ${e.event ?? ""} ${e.message.slice(0, 120)}`
    if (!echoesSafely(e.message)) problems.push(`unsafe message: ${where}`)
    for (const text of stringsIn(e)) {
      if (secrets.some((s) => text.includes(s))) problems.push(`a secret in: ${where}`)
      if (long.some((v) => text.includes(v))) problems.push(`a hostile value echoed whole in: ${where}`)
      if (!storableText(text)) problems.push(`a NUL or lone surrogate in: ${where}`)
    }
  }
  return [...new Set(problems)]
}

/** Strings no store can keep as they are, or that must never be echoed whole. */
export const hostileStrings: ReadonlyArray<readonly [label: string, value: string]> = [
  ["NUL", "a\u0000b"],
  ["lone high surrogate", "a\ud800b"],
  ["lone low surrogate", "\udc00"],
  ["too long", "x".repeat(201)],
  ["1 MB", "y".repeat(1_000_000)],
  ["empty", ""],
  ["blank", " \t "],
]

/** Values of the wrong type where a string is expected. */
export const notStrings: ReadonlyArray<readonly [label: string, value: unknown]> = [
  ["number", 42],
  ["null", null],
  ["object", { name: "x" }],
]

/** Durations past what the engine's timers or the database's columns hold, or that are not durations at all. */
export const badDurations: ReadonlyArray<readonly [string, unknown]> = [
  ["1e20 ms", 1e20],
  ["negative", -5],
  ["NaN", NaN],
  ["Infinity", Infinity],
  ['"Infinity"', "Infinity"],
  ["101 years", "36900 days"],
  ["misspelt object", { secnds: 5 }],
  ["object with a string", { seconds: "5" }],
  ["nonsense text", "soon"],
]

/** What an error may say about a hostile value: never the whole of a long one, never a raw control character. */
export const echoesSafely = (message: string): boolean =>
  message.length < 2_000 &&
  // eslint-disable-next-line no-control-regex
  !/[\u0000-\u0008\u000b-\u001f]/.test(message) &&
  !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(message)

export const tagOf = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null ? (e as { _tag?: string })._tag : undefined
