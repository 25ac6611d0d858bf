/**
 * The chaos soak, short, with fixed seeds (the long run is `pnpm chaos --seconds 600`, docs/guarantees.md):
 * three workers under every fault at once, then the history checker. A failure prints the seed, the violated
 * invariant and the history around it; `pnpm chaos --seconds 15 --seed N` replays the fault plan.
 */
import { describe, expect, it } from "vitest"
import { runSoak } from "./soak.ts"

describe("chaos soak (short)", () => {
  for (const seed of [1, 2])
    it(`seed ${seed}: nothing lost or doubled, every limit held`, { timeout: 240_000 }, async () => {
      const lines: string[] = []
      const result = await runSoak({ seconds: 15, seed, settleSeconds: 90, log: (l) => lines.push(l) })
      const detail = `${result.report}\n--- soak log ---\n${lines.join("\n")}`
      expect(result.verdict.violations, detail).toEqual([])
      // The soak did something: workflows of every kind, faults, reruns to check.
      expect(Number(result.verdict.figures["workflows planned"]), detail).toBeGreaterThan(20)
      expect(Number(result.verdict.figures["faults"]), detail).toBeGreaterThan(1)
      console.log(result.report)
    })
})
