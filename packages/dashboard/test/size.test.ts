// The front end stays small: every file the dashboard serves from assets/, summed raw and gzipped one by one
// (as a server sends them), within a budget. README.md states the measured size; update it with the assets.
import { gzipSync } from "node:zlib"
import { describe, expect, it } from "vitest"
import { assets } from "../src/assets.ts"

const budget = { raw: 40_000, gzipped: 15_000 }

describe("dashboard assets", () => {
  it(`stay within ${budget.raw / 1000} kB raw and ${budget.gzipped / 1000} kB gzipped`, () => {
    const files = [...assets().entries()]
    expect(files.map(([path]) => path)).toContain("/index.html")
    const raw = files.reduce((n, [, a]) => n + a.body.byteLength, 0)
    const gzipped = files.reduce((n, [, a]) => n + gzipSync(a.body, { level: 9 }).byteLength, 0)
    expect(raw, `assets are ${raw} B raw`).toBeLessThanOrEqual(budget.raw)
    expect(gzipped, `assets are ${gzipped} B gzipped`).toBeLessThanOrEqual(budget.gzipped)
  })
})
