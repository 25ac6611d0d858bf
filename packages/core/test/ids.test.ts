import { describe, expect, it } from "vitest"
import { uuidv7 } from "../src/index.ts"

describe("uuidv7", () => {
  it("is an RFC 9562 version 7 UUID whose first 48 bits are the instant", () => {
    const at = Date.UTC(2026, 11, 6, 21, 0, 0, 123)
    const id = uuidv7(at)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(at)
    expect(parseInt(uuidv7(0).replace(/-/g, "").slice(0, 12), 16)).toBe(0)
  })

  it("sorts by instant, and draws fresh random bits for each id", () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => uuidv7(1_700_000_000_000 + Math.floor(i / 10)))
    expect(new Set(ids).size).toBe(ids.length)
    const byTime = ids.map((id) => id.slice(0, 13))
    expect([...byTime].sort()).toEqual(byTime)
  })
})
