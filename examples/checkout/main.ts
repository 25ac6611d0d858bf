/**
 * `pnpm demo`: durability you can watch. A worker process (worker.ts) runs an order checkout on the
 * embedded store (PGlite in .durably/demo, wiped first), or on Postgres when DATABASE_URL is set. Once the
 * card is charged and the checkout is in its 3-second durable sleep, this script kills the worker with
 * SIGKILL, then starts a new worker on the same store: the checkout resumes where it stopped, and the
 * steps that completed do not run again.
 */
import { spawn } from "node:child_process"
import { once } from "node:events"
import { mkdirSync, rmSync } from "node:fs"
import { relative } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { makePayments } from "./workflow.ts"

const dir = fileURLToPath(new URL("../../.durably/demo", import.meta.url))
const workerScript = fileURLToPath(new URL("./worker.ts", import.meta.url))
const url = process.env["DATABASE_URL"]
// A Postgres database is not wiped, so each run there uses a workflow id of its own.
const orderId = url ? `order-1001-${Date.now().toString(36)}` : "order-1001"
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })

const t0 = Date.now()
const seconds = () => (Date.now() - t0) / 1000
const say = (line: string) => console.log(`${seconds().toFixed(1).padStart(5)}s  ${line}`)
const ranIn = new Map<string, Set<number>>() // step -> the processes whose ledger shows its body running

/** Start worker `n`; `onEvent` sees each event it reports, after it is printed. */
const startWorker = (n: number, note: string, onEvent: (event: Record<string, unknown>) => void) => {
  const child = spawn(process.execPath, ["--conditions=@durably/source", workerScript], {
    env: { ...process.env, DEMO_DIR: dir, DEMO_ORDER: orderId },
    stdio: ["ignore", "pipe", "inherit"],
  })
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>
  say(`process ${n} (pid ${child.pid}) starts${note}`)
  createInterface({ input: child.stdout }).on("line", (line) => {
    const event = JSON.parse(line) as Record<string, unknown>
    if (event["launched"]) say(`process ${n}: engine launched`)
    if (typeof event["message"] === "string") {
      const step = typeof event["step"] === "string" ? event["step"] : undefined
      if (step) ranIn.set(step, (ranIn.get(step) ?? new Set()).add(n))
      say(`process ${n}: ${step ? `step ${step}: ` : ""}${event["message"]}`)
    }
    onEvent(event)
  })
  return { child, exited }
}

console.log("Durably demo: an order checkout that survives SIGKILL")
console.log(
  url
    ? `Store: Postgres at DATABASE_URL (workflow ${orderId})\n`
    : `Store: embedded Postgres (PGlite) in ${relative(process.cwd(), dir)}\n`,
)

let chargedAt = 0
const creating = url ? "" : "; it creates the database first (PGlite's initdb takes a few seconds)"
const first = startWorker(1, creating, (event) => {
  if (event["step"] === "charge" && String(event["message"]).includes("charged")) {
    chargedAt = seconds()
    // The charge's checkpoint is written as its body returns; then the checkout sleeps for 3 seconds.
    setTimeout(() => {
      say("SIGKILL process 1, during the checkout's cooling-off sleep")
      first.child.kill("SIGKILL")
    }, 500)
  }
})
const [code, signal] = await first.exited
if (signal !== "SIGKILL") throw new Error(`process 1 ended on its own (exit code ${code}) instead of being killed`)

let result: unknown
let upAt = 0
let sleptUntil = 0
const second = startWorker(2, " on the same store", (event) => {
  if (event["launched"]) upAt = seconds()
  if (String(event["message"]).startsWith("cooling-off")) sleptUntil = seconds()
  if ("result" in event) result = event["result"]
})
const [code2] = await second.exited
if (code2 !== 0 || result === undefined) throw new Error(`process 2 failed (exit code ${code2})`)
say(`process 2: checkout done: ${JSON.stringify(result)}`)

console.log("\nWhich process ran each step's body:")
for (const [step, processes] of ranIn) console.log(`  ${step.padEnd(14)} process ${[...processes].join(" and ")}`)
const charges = Object.keys(makePayments(`${dir}/payments.json`).charges()).length
const [slept, up] = [sleptUntil - chargedAt, upAt - chargedAt]
console.log(`The card was charged ${charges} time(s).`)
console.log(
  `Process 2 was up ${up.toFixed(1)} s after the charge; the 3-second sleep ended ${slept.toFixed(1)} s after the charge: ` +
    (slept < up + 2.5 ? "its wake-up time was recorded before the crash." : "it started over in process 2."),
)
