/**
 * A summary of a V8 heap snapshot file (v8.writeHeapSnapshot): objects grouped by type and constructor
 * (or function, or V8-internal name), with their count and self size, biggest first. The file is read as a
 * stream and never parsed whole (a snapshot of a few hundred MB of heap is bigger than a string may be):
 * the header is parsed as JSON, the `nodes` numbers one by one, `edges` skipped, and of `strings` only the
 * names the biggest groups need.
 */
import { createReadStream } from "node:fs"

export interface HeapGroup {
  readonly type: string
  readonly name: string
  readonly count: number
  readonly selfBytes: number
}

export interface HeapSummary {
  readonly nodes: number
  readonly selfBytes: number
  readonly groups: ReadonlyArray<HeapGroup>
}

/** Types whose `name` is the value itself (a string's text, a number): grouped by type alone. */
const valueTypes = new Set(["string", "concatenated string", "sliced string", "number", "symbol", "bigint"])

export const summarizeHeapSnapshot = async (file: string, top = 20): Promise<HeapSummary> => {
  let phase: "header" | "nodes" | "seekStrings" | "strings" | "done" = "header"
  // Read through a function: the chunk handlers move the phase on, which flow analysis does not see.
  const now = () => phase
  let text = ""
  let fields: string[] = []
  let typeNames: string[] = []
  let nodes = new Float64Array(0)
  let filled = 0
  let current = -1
  // strings
  let stringIndex = 0
  let inString = false
  let escaped = false
  let raw = ""
  let wanted = new Set<number>()
  const names = new Map<number, string>()
  let groups = new Map<number, { count: number; size: number }>()
  let typeIdx = 0
  let nameIdx = 0
  let sizeIdx = 0
  let stride = 1

  const aggregate = () => {
    groups = new Map()
    const count = filled / stride
    for (let k = 0; k < count; k++) {
      const o = k * stride
      const t = nodes[o + typeIdx]!
      const byValue = valueTypes.has(typeNames[t] ?? "")
      const key = t * 1e10 + (byValue ? 0 : nodes[o + nameIdx]!)
      const g = groups.get(key)
      if (g) {
        g.count++
        g.size += nodes[o + sizeIdx]!
      } else groups.set(key, { count: 1, size: nodes[o + sizeIdx]! })
    }
    const biggest = [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, top)
    wanted = new Set(
      biggest.filter(([key]) => !valueTypes.has(typeNames[Math.floor(key / 1e10)] ?? "")).map(([key]) => key % 1e10),
    )
    return biggest
  }
  let biggest: Array<[number, { count: number; size: number }]> = []

  const onNodesChunk = (chunk: string, from: number): number => {
    for (let i = from; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i)
      if (c >= 48 && c <= 57) current = current < 0 ? c - 48 : current * 10 + (c - 48)
      else {
        if (current >= 0) {
          nodes[filled++] = current
          current = -1
        }
        if (c === 93 /* ] */) {
          biggest = aggregate()
          nodes = new Float64Array(0)
          phase = "seekStrings"
          return i + 1
        }
      }
    }
    return chunk.length
  }

  const onStringsChunk = (chunk: string, from: number): void => {
    let i = from
    while (i < chunk.length) {
      if (!inString) {
        const c = chunk[i]
        if (c === '"') {
          inString = true
          raw = ""
        } else if (c === "]") {
          phase = "done"
          return
        }
        i++
        continue
      }
      // Inside a string: find its closing quote, minding escapes.
      const keep = wanted.has(stringIndex)
      let j = i
      for (; j < chunk.length; j++) {
        const c = chunk.charCodeAt(j)
        if (escaped) escaped = false
        else if (c === 92 /* \ */) escaped = true
        else if (c === 34 /* " */) break
      }
      if (keep) raw += chunk.slice(i, j)
      if (j === chunk.length) return
      if (keep) names.set(stringIndex, JSON.parse(`"${raw}"`) as string)
      stringIndex++
      inString = false
      i = j + 1
    }
  }

  const stream = createReadStream(file, { encoding: "utf8", highWaterMark: 1 << 20 })
  for await (const piece of stream as AsyncIterable<string>) {
    if (now() === "done") break
    let chunk = piece
    if (phase === "header") {
      text += chunk
      const at = text.indexOf('"nodes":[')
      if (at < 0) continue
      const header = JSON.parse(`${text.slice(0, at).replace(/,\s*$/, "")}}`) as {
        snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] }; node_count: number }
      }
      fields = header.snapshot.meta.node_fields
      typeNames = header.snapshot.meta.node_types[0]
      typeIdx = fields.indexOf("type")
      nameIdx = fields.indexOf("name")
      sizeIdx = fields.indexOf("self_size")
      stride = fields.length
      nodes = new Float64Array(header.snapshot.node_count * stride)
      chunk = text.slice(at + '"nodes":['.length)
      text = ""
      phase = "nodes"
    }
    let from = 0
    if (now() === "nodes") from = onNodesChunk(chunk, 0)
    if (now() === "seekStrings") {
      // Keep a short tail so a marker split between chunks is still found.
      text = text.slice(-16) + chunk.slice(from)
      const at = text.indexOf('"strings":[')
      if (at < 0) continue
      chunk = text.slice(at + '"strings":['.length)
      text = ""
      from = 0
      phase = "strings"
    }
    if (now() === "strings") onStringsChunk(chunk, from)
  }
  stream.destroy()
  let selfBytes = 0
  let count = 0
  for (const g of groups.values()) {
    selfBytes += g.size
    count += g.count
  }
  return {
    nodes: count,
    selfBytes,
    groups: biggest.map(([key, g]) => {
      const type = typeNames[Math.floor(key / 1e10)] ?? "?"
      return {
        type,
        name: valueTypes.has(type) ? "" : (names.get(key % 1e10) ?? "?"),
        count: g.count,
        selfBytes: g.size,
      }
    }),
  }
}
