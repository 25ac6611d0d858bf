/**
 * `pnpm demo`: runs order checkouts on the in-memory store, then shows a second executor taking over a
 * checkout that the first one left half-done when it shut down. Completed steps are not run again.
 */
import { Durably, memoryStore } from "@durably/core"
import { makeCheckout, makePayments, type Order } from "./workflow.ts"

const say = (line: string) => console.log(line)
const payments = makePayments()
const checkout = makeCheckout(payments, say)
const store = memoryStore()

const order = (id: string): Order => ({ id, items: [{ sku: "book", qty: 1 }], amountCents: 1999 })

say("== 1. Two checkouts on one executor")
const first = await Durably.launch({ store, workflows: [checkout], executorId: "worker-1", logger: false })
const results = await Promise.all([first.run(checkout, order("A-1")), first.run(checkout, order("A-2"))])
for (const r of results) say(`  done: ${JSON.stringify(r)}`)

say("\n== 2. A checkout whose executor stops half-way, finished by another executor")
const h = await first.start(checkout, order("B-1"), { id: "order-B-1" })
await new Promise((r) => setTimeout(r, 300)) // reserve-stock and charge are done; it is in its durable sleep
say("  worker-1 shuts down (its workflow is released, not lost)")
await first.shutdown()
say("  worker-2 launches; launching recovers the released checkout. reserve-stock and charge do not run again:")
const second = await Durably.launch({ store, workflows: [checkout], executorId: "worker-2", logger: false })
say(`  done: ${JSON.stringify(await second.handle(h.id).result())}`)
say(`\nThe provider charged ${payments.charges.size} time(s) for 3 orders, despite the simulated timeouts.`)
await second.shutdown()
