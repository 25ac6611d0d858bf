/** Where a command's results go: tables and records for people, JSON and NDJSON for scripts. */
import { colourWanted, makeStyle, type Style } from "./style.ts"
import { renderRecord, renderTable, type Column } from "./table.ts"
import { toJson } from "@durably/dashboard/values"

export interface Io {
  readonly stdout: { write: (text: string) => unknown; readonly isTTY?: boolean }
  readonly stderr: { write: (text: string) => unknown; readonly isTTY?: boolean }
  readonly env: NodeJS.ProcessEnv
}

export interface Output {
  readonly json: boolean
  readonly style: Style
  /** A list: a table, or one JSON document per line (NDJSON). */
  readonly list: <R>(rows: ReadonlyArray<R>, columns: ReadonlyArray<Column<R>>, toDoc?: (row: R) => unknown) => void
  /** One thing: "key  value" lines, or one JSON document. */
  readonly record: (doc: unknown, entries: ReadonlyArray<readonly [string, unknown]>) => void
  /** What an action did: a sentence for people, a JSON document for scripts. */
  readonly done: (sentence: string, doc: unknown) => void
  /** A note for people only (on stderr, so it never mixes into piped output). */
  readonly note: (text: string) => void
}

export const makeOutput = (io: Io, options: { readonly json: boolean; readonly noColor: boolean }): Output => {
  const style = makeStyle(colourWanted(io.stdout, io.env, options.noColor))
  const noteStyle = makeStyle(colourWanted(io.stderr, io.env, options.noColor))
  const emit = (doc: unknown) => io.stdout.write(JSON.stringify(toJson(doc)) + "\n")
  return {
    json: options.json,
    style,
    list: (rows, columns, toDoc) => {
      if (options.json) for (const row of rows) emit(toDoc ? toDoc(row) : row)
      else if (rows.length === 0) io.stderr.write(noteStyle.dim("(none)") + "\n")
      else io.stdout.write(renderTable(rows, columns, style))
    },
    record: (doc, entries) => {
      if (options.json) emit(doc)
      else io.stdout.write(renderRecord(entries, style))
    },
    done: (sentence, doc) => {
      if (options.json) emit(doc)
      else io.stdout.write(sentence + "\n")
    },
    note: (text) => {
      if (!options.json) io.stderr.write(noteStyle.dim(text) + "\n")
    },
  }
}
