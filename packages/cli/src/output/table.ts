/** Tables for people: one line per row, every cell one line and cut to its column's width. */
import type { Style } from "./style.ts"
import { inline, truncate } from "@durably/dashboard/values"

export interface Column<R> {
  readonly header: string
  readonly get: (row: R) => unknown
  /** Widest this column gets (longer cells are cut with "…"). Default 40. */
  readonly max?: number
  /** Format the (already cut) text, e.g. colour a status. */
  readonly paint?: (text: string, row: R) => string
}

/** A cell's text: strings as they are, times as ISO, anything else inline. */
export const cellText = (value: unknown): string => {
  if (value === undefined || value === null) return ""
  if (typeof value === "number" && Number.isFinite(value)) return String(value)
  return inline(value)
}

export const renderTable = <R>(rows: ReadonlyArray<R>, columns: ReadonlyArray<Column<R>>, style: Style): string => {
  const cells = rows.map((row) => columns.map((c) => truncate(cellText(c.get(row)), c.max ?? 40)))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)))
  const line = (texts: ReadonlyArray<string>, paint: (text: string, i: number) => string) =>
    texts
      .map((t, i) => {
        const padded = i === texts.length - 1 ? t : t.padEnd(widths[i]!)
        return paint(padded, i)
      })
      .join("  ")
      .trimEnd()
  const header = line(
    columns.map((c) => c.header),
    (t) => style.bold(t),
  )
  const body = cells.map((texts, r) =>
    line(texts, (t, i) => {
      const paint = columns[i]!.paint
      if (!paint) return t
      // Paint the text, not its padding, so colour codes never shift the columns.
      const trimmed = t.trimEnd()
      return paint(trimmed, rows[r]!) + t.slice(trimmed.length)
    }),
  )
  return [header, ...body].join("\n") + "\n"
}

/** A record as "key  value" lines; values inline, cut to `width`. */
export const renderRecord = (entries: ReadonlyArray<readonly [string, unknown]>, style: Style, width = 200): string => {
  const shown = entries.filter(([, v]) => v !== undefined)
  const keyWidth = Math.max(0, ...shown.map(([k]) => k.length))
  return shown.map(([k, v]) => `${style.bold(k.padEnd(keyWidth))}  ${truncate(cellText(v), width)}`).join("\n") + "\n"
}
