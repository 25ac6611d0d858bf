/**
 * Named prepared statements on PGlite. Its `query` parses, describes and plans every statement afresh (six
 * calls into the WebAssembly backend), and for the store's statements planning is most of the cost: a
 * checkpoint took about 0.8 ms that way and about 0.2 ms prepared (docs/benchmarks.md). So each statement
 * text is parsed once, with its parameter types described, and then only bound and executed, in one call.
 *
 * Statements are kept per PGlite instance (its one session), up to `maxStatements` texts; others take the
 * plain path. Parameters are serialized and rows parsed by the instance's own serializers and parsers, as its
 * `query` does, so both paths give the same values.
 */
import type { Row } from "./client.ts"

/** What is used of a PGlite instance for prepared statements (structural: these types never load PGlite). */
export interface PGliteProtocolLike {
  execProtocol(message: Uint8Array): Promise<{ messages: ReadonlyArray<unknown> }>
  readonly serializers: Record<number | string, (x: never) => string>
  readonly parsers: Record<number | string, (x: string, typeId?: number) => unknown>
}

/** What is used of the PGlite module: its wire protocol messages and its result parser. */
export interface PGliteModuleLike {
  readonly protocol: {
    readonly serialize: {
      parse(opts: { name: string; text: string }): Uint8Array
      describe(opts: { type: "S" | "P"; name?: string }): Uint8Array
      bind(opts: { statement: string; values: Array<string | null> }): Uint8Array
      execute(opts: object): Uint8Array
      sync(): Uint8Array
    }
  }
  readonly parse: {
    parseResults(messages: never, parsers: never): ReadonlyArray<{ readonly rows: unknown[] }>
  }
}

const maxStatements = 200

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

interface Prepared {
  readonly name: string
  readonly types: ReadonlyArray<number>
}

/**
 * Runs statements as prepared statements; `handles` says whether a text is one (once `maxStatements` texts are
 * prepared, new texts are not). Calls must not overlap: the caller's queue runs them one at a time.
 */
export const preparedStatements = (pg: PGliteProtocolLike, module: PGliteModuleLike) => {
  const { serialize } = module.protocol
  const statements = new Map<string, Prepared>()
  // Names are never reused: a statement whose preparation failed after the server created it cannot clash.
  let named = 0

  const prepare = async (text: string): Promise<Prepared> => {
    const name = `durably_${named++}`
    // Parse and describe in one call; the Sync ends it whether or not the parse succeeded.
    const { messages } = await pg.execProtocol(
      concat([serialize.parse({ name, text }), serialize.describe({ type: "S", name }), serialize.sync()]),
    )
    const described = messages.find((m) => (m as { name?: string }).name === "parameterDescription") as
      { readonly dataTypeIDs: ReadonlyArray<number> } | undefined
    const prepared = { name, types: described?.dataTypeIDs ?? [] }
    statements.set(text, prepared)
    return prepared
  }

  return {
    /** Whether `text` is (or may become) a prepared statement. */
    handles: (text: string): boolean => statements.has(text) || statements.size < maxStatements,
    query: async <R extends Row>(text: string, params: ReadonlyArray<unknown>): Promise<R[]> => {
      const prepared = statements.get(text) ?? (await prepare(text))
      const values = params.map((value, i) => {
        if (value === null || value === undefined) return null
        const serializer = pg.serializers[prepared.types[i] ?? 0]
        if (serializer) return serializer(value as never)
        if (typeof value === "string") return value
        if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean")
          return value.toString()
        return JSON.stringify(value)
      })
      const { messages } = await pg.execProtocol(
        concat([
          serialize.bind({ statement: prepared.name, values }),
          serialize.describe({ type: "P" }),
          serialize.execute({}),
          serialize.sync(),
        ]),
      )
      return (module.parse.parseResults(messages as never, pg.parsers as never)[0]?.rows ?? []) as R[]
    },
  }
}
