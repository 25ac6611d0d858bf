/**
 * `pnpm example:recovery` — the operator's recovery story: a payment provider is down for a while, the
 * checkouts of that window fail. An operator lists the failures in the window, inspects one, "fixes" the
 * provider, and forks every failed checkout from its payment step. Every one completes; no card is charged
 * twice (the provider deduplicates on the order id, and the fork reuses the reservation it already made).
 */
import { defineWorkflow, Durably, type WorkflowSummary } from "@durably/core"
import { setUpExample } from "../shared/setup.ts"

const { store, run, say, launch } = setUpExample("recovery", "recovering checkouts that failed during an outage")

interface Order {
  readonly id: string
  readonly amount: number
}

/** A payment provider: idempotent on the caller's key; down for a while; sometimes charges and then times out. */
const provider = {
  down: false,
  charges: new Map<string, number>(),
  calls: 0,
  charge(key: string, amount: number): string {
    this.calls++
    if (this.down) {
      // Half the time the charge goes through but the answer is lost: the caller sees a failure.
      if (this.calls % 2 === 0) this.charges.set(key, amount)
      throw new Error("payment provider unavailable (503)")
    }
    if (!this.charges.has(key)) this.charges.set(key, amount)
    return `ch_${key}`
  },
}
const reservations = new Map<string, number>()

const checkout = defineWorkflow("checkout", async (ctx, order: Order) => {
  await ctx.step("reserve", () => reservations.set(order.id, (reservations.get(order.id) ?? 0) + 1))
  const charge = await ctx.step("pay", () => provider.charge(order.id, order.amount), {
    retry: { maxAttempts: 2, initialDelay: "50 millis" },
  })
  await ctx.step("ship", () => `shipped ${order.id}`)
  return charge
})

const durably = await launch({ workflows: [checkout] })
const ops = await Durably.client({ store }) // the operator's script: no workflow code

const orders = (from: number, n: number): Order[] =>
  Array.from({ length: n }, (_, i) => ({ id: `order-${from + i}${run}`, amount: 10 + from + i }))
const place = async (batch: Order[]) =>
  Promise.all(batch.map(async (o) => (await durably.start(checkout, o, { id: o.id })).outcome()))

say("10 checkouts while the provider works")
await place(orders(0, 10))
const outageStart = new Date()
provider.down = true
say("the provider goes down: 12 checkouts during the outage")
await place(orders(10, 12))
const outageEnd = new Date()
provider.down = false
say("the provider is back: 5 more checkouts")
await place(orders(22, 5))

// The operator: every failed checkout of the outage window, page by page.
const failed: WorkflowSummary[] = []
let cursor: string | undefined
do {
  const page = await ops.workflows.list({
    name: "checkout",
    status: "ERROR",
    createdAfter: outageStart,
    createdBefore: outageEnd,
    includeOutput: true,
    limit: 5,
    order: "asc",
    ...(cursor ? { cursor } : {}),
  })
  failed.push(...page.workflows)
  cursor = page.nextCursor
} while (cursor)
say(`${failed.length} checkouts failed between ${outageStart.toISOString()} and ${outageEnd.toISOString()}`)
say(`first failure: ${failed[0]!.id}: ${(failed[0]!.error as Error).message}`)
say(`steps of ${failed[0]!.id}:`)
for (const s of await ops.workflows.steps(failed[0]!.id))
  say(
    `  #${s.stepId} ${s.kind} ${JSON.stringify(s.name)} ${s.state}, ${s.attempts} attempt(s)${
      s.error ? `: ${(s.error as Error).message}` : ""
    }${s.attemptErrors.length ? ` (attempt errors: ${s.attemptErrors.map((e) => (e as Error).message).join("; ")})` : ""}`,
  )

say(`forking all ${failed.length} from their "pay" step`)
const forks = await Promise.all(failed.map((w) => ops.workflows.fork(w.id, { fromStep: "pay" })))
// The operator's client runs no workflow code: a fork waits, PENDING and unowned, for a worker of its version.
say(
  `${forks.length} forks are PENDING with no owner; the worker takes them at its next heartbeat (every 2 s by default), waiting…`,
)
const forkedAt = Date.now()
const results = await Promise.all(forks.map((id) => ops.handle<string>(id).result()))
say(`${results.length} forks completed after ${Date.now() - forkedAt} ms: ${results.slice(0, 3).join(", ")}, …`)

const everyOrder = [...orders(0, 27)]
const charged = everyOrder.filter((o) => provider.charges.has(o.id)).length
const reservedTwice = [...reservations.values()].filter((n) => n > 1).length
say(`orders: ${everyOrder.length}; charged: ${charged} (each key at most once by construction of the provider)`)
say(`reservations made twice: ${reservedTwice} (the forks reused the reservation step of their original)`)
const stillFailed = await ops.workflows.count({ name: "checkout", status: "ERROR", createdAfter: outageStart })
say(`original failures are kept for the record: ${stillFailed} ERROR, each with a fork that succeeded`)
if (charged !== everyOrder.length || reservedTwice !== 0 || results.length !== failed.length || failed.length !== 12)
  throw new Error("recovery did not work as described")
await ops.close()
await durably.shutdown()
