/**
 * `pnpm example:refund-agent`: three refund requests through the refund agent (workflow.ts), which hands
 * refunds over $100 to a human. This script plays the customer and the human reviewer:
 *
 * 1. a small refund: approved by policy, no human involved;
 * 2. a large refund: the reviewer reads the published request (`durably.getEvent`) and approves it
 *    (`durably.send` on the typed approval topic);
 * 3. a large refund nobody answers: after the approval timeout (2 s here, a day in real life) the agent escalates.
 *
 * Runs on the embedded store (PGlite in .durably/refund-agent, wiped first), or on Postgres when DATABASE_URL
 * is set (with workflow ids of this run's own, as that database is not wiped).
 */
import { setUpExample } from "../shared/setup.ts"
import {
  approval,
  dollars,
  makeBackOffice,
  makeRefundAgent,
  type ApprovalRequest,
  type RefundOutcome,
  type RefundRequest,
} from "./workflow.ts"

const { run, say, launch } = setUpExample("refund-agent", "a refund agent with a human in the loop")

const office = makeBackOffice({
  "order-7": { totalCents: 3900, daysAgo: 4 },
  "order-8": { totalCents: 45000, daysAgo: 12 },
  "order-9": { totalCents: 120000, daysAgo: 20 },
})
const refundAgent = makeRefundAgent(office, { autoApproveUpToCents: 10000, approvalTimeout: "2 seconds" })
const durably = await launch({ workflows: [refundAgent] })
say("engine launched")

/** Submit `request`; `review` plays the human once the agent has published its approval request. */
const submit = async (request: RefundRequest, review?: (id: string, asked: ApprovalRequest) => Promise<void>) => {
  say(`customer ${request.customer} asks for ${dollars(request.amountCents)} back on ${request.orderId}`)
  const handle = await durably.start(refundAgent, request, { id: request.id })
  if (review) {
    const asked = await durably.getEvent<ApprovalRequest>(request.id, "approval_request", { timeout: "10 seconds" })
    if (asked === undefined) throw new Error(`${request.id} published no approval request within 10 s`)
    say(`reviewer's inbox: ${asked.customer} wants ${asked.amount}: "${asked.reason}" (${asked.assessment})`)
    await review(request.id, asked)
  }
  const outcome: RefundOutcome = await handle.result()
  say(`${request.id} finished: ${JSON.stringify(outcome)}\n`)
  return outcome
}

console.log("Request 1: $25.00, under the $100.00 limit")
await submit({
  id: `refund-1${run}`,
  customer: "ana",
  orderId: "order-7",
  amountCents: 2500,
  reason: "arrived scratched",
})

console.log("Request 2: $320.00; a human approves it")
await submit(
  { id: `refund-2${run}`, customer: "ben", orderId: "order-8", amountCents: 32000, reason: "wrong size, returned" },
  async (id) => {
    say("reviewer (alice) approves")
    await durably.send(id, approval, { approved: true, by: "alice" })
  },
)

console.log("Request 3: $950.00; nobody answers within the 2-second approval timeout")
await submit(
  { id: `refund-3${run}`, customer: "cleo", orderId: "order-9", amountCents: 95000, reason: "never delivered" },
  async () => say("reviewer is away: no answer"),
)

await durably.shutdown()
const { refunds, customerEmails, tickets } = office.ledger
console.log(
  `Back office: ${refunds} refund(s) issued, ${customerEmails} rejection email(s), ${tickets} ticket(s) opened.`,
)
