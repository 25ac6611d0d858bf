/**
 * `pnpm chaos [--seconds N] [--seed S]`: one soak (soak.ts) under every fault at once, then the history
 * checker. Prints the figures of each invariant and exits 1 on a violation, naming the seed to replay.
 */
import { parseArgs } from "node:util"
import { runSoak } from "./soak.ts"

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    seed: { type: "string" },
    workers: { type: "string", default: "3" },
  },
})
const seconds = Number(values.seconds)
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
const workers = Number(values.workers)
if (!(seconds > 0) || !Number.isInteger(seed) || !(workers >= 2))
  throw new Error("usage: pnpm chaos [--seconds N>0] [--seed integer] [--workers N>=2]")

const result = await runSoak({ seconds, seed, workers })
console.log(result.report)
process.exitCode = result.verdict.violations.length === 0 ? 0 : 1
