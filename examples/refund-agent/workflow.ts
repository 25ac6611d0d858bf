/**
 * An agentic refund with a human in the loop, after the seed docs' `agentic_refund`. The agent looks up the
 * order and assesses the request against the refund policy (steps: each tool call runs once and is recorded).
 * A refund up to the auto-approval limit is issued at once; a larger one goes to a human: the workflow
 * publishes the request (an event a review UI would read), then waits for the answer on the typed `approval`
 * topic. Approved: refund. Rejected: tell the customer. No answer in time: escalate to a supervisor.
 *
 * The assessment is a rule-based stand-in for an LLM call; the shop's systems are fakes that count their calls.
 */
import { defineTopic, defineWorkflow, type DurationInput } from "@durably/core"
import { Schema } from "effect"

/** The reviewer's answer, validated by the schema when sent and when received. */
export const approval = defineTopic("approval", Schema.Struct({ approved: Schema.Boolean, by: Schema.String }))

export interface RefundRequest {
  readonly id: string
  readonly customer: string
  readonly orderId: string
  readonly amountCents: number
  readonly reason: string
}

/** What the workflow publishes under "approval_request" for a human to decide on. */
export interface ApprovalRequest {
  readonly customer: string
  readonly amount: string
  readonly reason: string
  readonly assessment: string
}

export type RefundOutcome =
  | { readonly outcome: "refunded"; readonly refundId: string; readonly approvedBy: string }
  | { readonly outcome: "rejected"; readonly by: string }
  | { readonly outcome: "escalated"; readonly ticket: string }
  | { readonly outcome: "denied"; readonly why: string }

interface OrderRecord {
  readonly totalCents: number
  readonly daysAgo: number
}

/** Fake order database, payment processor and ticketing system; `ledger` counts what they did. */
export const makeBackOffice = (orders: Record<string, OrderRecord>) => {
  const ledger = { refunds: 0, customerEmails: 0, tickets: 0 }
  return {
    ledger,
    findOrder: (orderId: string) => orders[orderId] ?? null,
    refund: (request: RefundRequest, _idempotencyKey: string) => `re_${request.id}_${++ledger.refunds}`,
    emailCustomer: (_request: RefundRequest, _text: string) => {
      ledger.customerEmails++
    },
    openTicket: (request: RefundRequest) => `TICKET-${100 + ++ledger.tickets} (${request.id})`,
  }
}

export type BackOffice = ReturnType<typeof makeBackOffice>

export const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`

export const makeRefundAgent = (
  office: BackOffice,
  policy: { readonly autoApproveUpToCents: number; readonly approvalTimeout: DurationInput },
) =>
  defineWorkflow("refund-agent", async (ctx, request: RefundRequest): Promise<RefundOutcome> => {
    const order = await ctx.step("look-up-order", () => office.findOrder(request.orderId))
    const assessment = await ctx.step("assess", () => {
      if (!order) return { eligible: false, note: `order ${request.orderId} not found` }
      if (order.daysAgo > 30)
        return { eligible: false, note: `bought ${order.daysAgo} days ago, past the 30-day window` }
      if (request.amountCents > order.totalCents)
        return { eligible: false, note: `asks for more than the order's ${dollars(order.totalCents)}` }
      return { eligible: true, note: `order of ${dollars(order.totalCents)}, ${order.daysAgo} days ago: within policy` }
    })
    ctx.log.info(`assessment: ${assessment.note}`)
    if (!assessment.eligible) return { outcome: "denied", why: assessment.note }

    const issueRefund = (approvedBy: string) =>
      ctx.step("issue-refund", ({ idempotencyKey }) => {
        const refundId = office.refund(request, idempotencyKey)
        ctx.log.info(`refunded ${dollars(request.amountCents)} (${refundId}), approved by ${approvedBy}`)
        return { outcome: "refunded" as const, refundId, approvedBy }
      })

    if (request.amountCents <= policy.autoApproveUpToCents) return issueRefund("policy (auto-approval)")

    const summary: ApprovalRequest = {
      customer: request.customer,
      amount: dollars(request.amountCents),
      reason: request.reason,
      assessment: assessment.note,
    }
    ctx.log.info(`over ${dollars(policy.autoApproveUpToCents)}: asking a human, then waiting for the approval`)
    await ctx.setEvent("approval_request", summary)
    const answer = await ctx.recv(approval, { timeout: policy.approvalTimeout })

    if (answer === undefined) {
      const ticket = await ctx.step("escalate", () => office.openTicket(request))
      ctx.log.info(`no answer in time: escalated to a supervisor as ${ticket}`)
      return { outcome: "escalated", ticket }
    }
    if (!answer.approved) {
      await ctx.step("notify-rejection", () => office.emailCustomer(request, "Your refund request was declined."))
      ctx.log.info(`rejected by ${answer.by}; customer notified`)
      return { outcome: "rejected", by: answer.by }
    }
    return issueRefund(answer.by)
  })
