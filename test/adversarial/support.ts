/**
 * The adversarial suite's common parts: the three stores (memory, embedded PGlite, Postgres in a schema of its
 * own), the hostile values, and waits that are always bounded, so a hang fails a test instead of stalling it.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { memoryStore, type Store } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { embeddedStore } from "@durably/postgres/embedded"
import { databaseUrl, dropSchema, freshSchema } from "../../packages/postgres/test/pg.ts"

export interface StoreKind {
  readonly name: "memory" | "embedded" | "postgres"
  /** A fresh, empty store; `cleanup` drops what it made (a directory, a schema). */
  readonly make: () => Promise<{ readonly store: Store; readonly cleanup: () => Promise<void> }>
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
      const url = await databaseUrl()
      const schema = freshSchema("adv")
      return { store: postgresStore({ url, schema, max: 4 }), cleanup: () => dropSchema(url, schema) }
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

export const count = async (store: Store): Promise<number> =>
  (await Effect.runPromise(store.listWorkflows({ limit: 10_000 }))).length

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

/** What an error may say about a hostile value: never the whole of a long one, never a raw control character. */
export const echoesSafely = (message: string): boolean =>
  message.length < 2_000 &&
  // eslint-disable-next-line no-control-regex
  !/[\u0000-\u0008\u000b-\u001f]/.test(message) &&
  !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(message)

export const tagOf = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null ? (e as { _tag?: string })._tag : undefined
