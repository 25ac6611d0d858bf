import { Session } from "node:inspector/promises"
import { writeFileSync } from "node:fs"
import postgres from "postgres"
import { postgresStore } from "@durably/postgres"
import { launch, tenSteps } from "./scenarios/perStep/common.ts"

const schema = `prof_${Date.now().toString(36)}`
const N = Number(process.env["N"] ?? 300)
const durably = await launch(postgresStore({ schema }))
for (let i = 0; i < 50; i++) await (await durably.start(tenSteps, i)).result()
const session = new Session()
session.connect()
await session.post("Profiler.enable")
await session.post("Profiler.setSamplingInterval", { interval: 50 })
await session.post("Profiler.start")
const cpu0 = process.cpuUsage()
const t0 = performance.now()
for (let i = 0; i < N; i++) await (await durably.start(tenSteps, i)).result()
const wall = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
const { profile } = await session.post("Profiler.stop")
console.log(`per step: wall ${(wall / N / 10).toFixed(3)} ms, cpu ${((cpu.user + cpu.system) / 1000 / N / 10).toFixed(3)} ms`)
writeFileSync("/work/scratch/prof.cpuprofile", JSON.stringify(profile))
// self time by function and by area
const nodes = new Map(profile.nodes.map((n: any) => [n.id, n]))
const self = new Map<number, number>()
const dt = profile.timeDeltas
for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0))
const byFn = new Map<string, number>(); const byArea = new Map<string, number>()
let total = 0
for (const [id, us] of self) {
  const n: any = nodes.get(id); const cf = n.callFrame
  const url: string = cf.url || "(native)"
  if (cf.functionName === "(idle)" || cf.functionName === "(program)") { byArea.set(cf.functionName, (byArea.get(cf.functionName) ?? 0) + us); continue }
  total += us
  const area = url.includes("/effect/") ? "effect" : url.includes("node_modules/postgres") || url.includes("/postgres/src/") && url.includes("node_modules") ? "postgres.js" : url.includes("packages/core") ? "durably core" : url.includes("packages/postgres") ? "durably postgres" : url.startsWith("node:") ? "node" : cf.functionName === "(garbage collector)" ? "gc" : url
  byArea.set(area, (byArea.get(area) ?? 0) + us)
  const key = `${cf.functionName || "(anon)"} ${url.split("/").slice(-2).join("/")}:${cf.lineNumber}`
  byFn.set(key, (byFn.get(key) ?? 0) + us)
}
console.log("by area (ms per step):")
for (const [a, us] of [...byArea].sort((x, y) => y[1] - x[1]).slice(0, 15)) console.log(`  ${(us / 1000 / N / 10).toFixed(4)}  ${a}`)
console.log("top functions (µs per step):")
for (const [f, us] of [...byFn].sort((x, y) => y[1] - x[1]).slice(0, 45)) console.log(`  ${(us / N / 10).toFixed(1).padStart(6)}  ${f}`)
await durably.shutdown()
const sql = postgres({ onnotice: () => {} }); await sql.unsafe(`DROP SCHEMA "${schema}" CASCADE`); await sql.end()
