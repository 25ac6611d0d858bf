// What the serializer stores prints without crashing: whole in --json, cut in tables, colour only on a TTY.
import { describe, expect, it } from "vitest"
import { inline, pretty, toJson, truncate } from "@durably/dashboard/values"
import { makeOutput } from "../src/output/output.ts"
import { colourWanted } from "../src/output/style.ts"

const stored = () => {
  const cyclic: Record<string, unknown> = { name: "loop" }
  cyclic["self"] = cyclic
  const error = new RangeError("too far", { cause: new Error("root") })
  Object.assign(error, { code: "E_FAR" })
  return {
    big: 2n ** 70n,
    when: new Date("2026-01-02T03:04:05.000Z"),
    map: new Map<unknown, unknown>([
      ["a", 1],
      [2n, new Set([1, 2])],
    ]),
    bytes: new Uint8Array([1, 2, 3]),
    nothing: undefined,
    odd: [NaN, Infinity, -0],
    error,
    cyclic,
    fn: () => 1,
  }
}

const capture = (isTTY: boolean, json: boolean, env: NodeJS.ProcessEnv = {}) => {
  let stdout = ""
  let stderr = ""
  const out = makeOutput(
    { stdout: { write: (t: string) => (stdout += t), isTTY }, stderr: { write: (t: string) => (stderr += t) }, env },
    { json, noColor: false },
  )
  return { out, text: () => ({ stdout, stderr }) }
}

describe("values", () => {
  it("toJson gives JSON for every stored kind, losslessly where JSON can say it", () => {
    const doc = JSON.parse(JSON.stringify(toJson(stored()))) as Record<string, unknown>
    expect(doc["big"]).toBe("1180591620717411303424")
    expect(doc["when"]).toBe("2026-01-02T03:04:05.000Z")
    expect(doc["map"]).toEqual([
      ["a", 1],
      ["2", [1, 2]],
    ])
    expect(doc["bytes"]).toBe("AQID")
    expect("nothing" in doc).toBe(false)
    expect(doc["odd"]).toEqual(["NaN", "Infinity", 0])
    expect(doc["error"]).toMatchObject({
      name: "RangeError",
      message: "too far",
      code: "E_FAR",
      cause: { message: "root" },
    })
    expect(doc["cyclic"]).toEqual({ name: "loop", self: "[circular]" })
    expect(doc["fn"]).toBe("[function fn]")
  })

  it("inline and pretty render every kind readably", () => {
    const line = inline(stored())
    expect(line).toContain("big: 1180591620717411303424n")
    expect(line).toContain("when: 2026-01-02T03:04:05.000Z")
    expect(line).toContain('map: Map(2) { "a" => 1, 2n => Set(2) { 1, 2 } }')
    expect(line).toContain("error: RangeError: too far")
    expect(line).toContain("self: [circular]")
    expect(line).not.toContain("\n")
    const text = pretty(stored())
    expect(text).toContain('  map: Map(2) {\n    "a" => 1,')
    expect(text).toContain("  big: 1180591620717411303424n,")
    expect(inline("two\nlines")).toBe("two ⏎ lines")
  })

  it("truncate cuts long text and says how much it left out", () => {
    const long = "x".repeat(10_000)
    const cut = truncate(long, 40)
    expect(cut).toHaveLength(40)
    expect(cut).toMatch(/… \(\+\d+\)$/)
    expect(truncate("short", 40)).toBe("short")
  })
})

describe("output", () => {
  const rows = [
    { id: "wf-1", status: "ERROR", output: "y".repeat(5_000) },
    { id: "wf-2", status: "SUCCESS", output: 12n },
  ]
  const columns = [
    { header: "ID", get: (r: (typeof rows)[number]) => r.id },
    { header: "STATUS", get: (r: (typeof rows)[number]) => r.status, paint: (t: string) => `<${t}>` },
    { header: "OUTPUT", get: (r: (typeof rows)[number]) => r.output, max: 30 },
  ]

  it("tables cut long cells; --json lists are NDJSON with values whole", () => {
    const table = capture(false, false)
    table.out.list(rows, columns)
    const lines = table.text().stdout.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+OUTPUT$/)
    expect(lines[1]!.length).toBeLessThan(60)
    expect(lines[2]).toContain("12n")
    const json = capture(false, true)
    json.out.list(rows, columns)
    const docs = json
      .text()
      .stdout.trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { output: string })
    expect(docs).toHaveLength(2)
    expect(docs[0]!.output).toHaveLength(5_000)
    expect(docs[1]!.output).toBe("12")
  })

  it("colours only a TTY, and never with NO_COLOR", () => {
    expect(colourWanted({ isTTY: true }, {}, false)).toBe(true)
    expect(colourWanted({ isTTY: false }, {}, false)).toBe(false)
    expect(colourWanted({ isTTY: true }, { NO_COLOR: "1" }, false)).toBe(false)
    expect(colourWanted({ isTTY: true }, {}, true)).toBe(false)
    const piped = capture(false, false)
    piped.out.record({}, [["status", "ERROR"]])
    expect(piped.text().stdout).not.toContain("\u001b[")
    const tty = capture(true, false)
    tty.out.record({}, [["status", "ERROR"]])
    expect(tty.text().stdout).toContain("\u001b[1m")
  })
})
