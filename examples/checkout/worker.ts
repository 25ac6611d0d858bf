/**
 * One worker process of the demo (main.ts starts it twice): opens the store, launches Durably, starts the
 * checkout, or, after a crash, attaches to the one that launching has just recovered, and waits for its
 * result. It reports to main.ts with one JSON line per event on stdout.
 *
 * Environment: DEMO_DIR (where the demo keeps its files), DEMO_ORDER (the workflow id), and optionally
 * DATABASE_URL (Postgres instead of the embedded store).
 */
import { join } from "node:path"
import { consoleLogger, Durably, type LogSink } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { embeddedStore } from "@durably/postgres/embedded"
import { makeCheckout, makePayments } from "./workflow.ts"

const dir = process.env["DEMO_DIR"]
const orderId = process.env["DEMO_ORDER"]
if (!dir || !orderId) throw new Error("worker.ts is started by main.ts (pnpm demo)")
const url = process.env["DATABASE_URL"]

const report = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`)
const warnings = consoleLogger("warn")
// What the checkout logs (its ledger) goes to main.ts; the engine's own warnings to stderr.
const logger: LogSink = (entry) => {
  if (entry.workflowId === orderId) report({ step: entry.step, message: entry.message })
  else if (!entry.workflowId) warnings(entry)
}

const store = url ? postgresStore({ url }) : embeddedStore({ dir: join(dir, "store") })
const checkout = makeCheckout(makePayments(join(dir, "payments.json")), "3 seconds")
// The same executor id as the process that died: a restarted worker takes its workflows back at once.
const durably = await Durably.launch({ store, workflows: [checkout], executorId: "checkout-worker", logger })
report({ launched: true })

const order = { id: orderId, items: [{ sku: "book", qty: 2 }], amountCents: 4999 }
const handle = await durably.start(checkout, order, { id: orderId }) // attaches if it exists already
report({ result: await handle.result() })
await durably.shutdown()
