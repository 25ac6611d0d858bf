/**
 * Exactly-once receiving, checked from the store's own tables and the ledger after inbox workflows
 * (support/inbox.ts) finished:
 *
 * - every workflow is SUCCESS and returned the messages in the order per-topic FIFO dictates;
 * - the recv checkpoints (what the workflows received, as recorded) hold every message sent exactly once
 *   across all workflows, each at its destination, per topic in the order it was sent; none is lost, none
 *   duplicated, none left waiting, and each message row is marked consumed by the step that holds it;
 * - the record steps' checkpoints hold the same sequence, and the ledger (what the record bodies did) has a
 *   row per message from the process that wrote the step's checkpoint; a body ran again only in a process
 *   that was interrupted before that checkpoint, never twice in one process, never after the checkpoint.
 */
import { jsonSerializer } from "@durably/core"
import { readLedger, type LedgerRow, type Sql } from "./db.ts"
import { expectedReceipts, type InboxMessage, type InboxOutput, type RecordResult } from "./inbox.ts"

export interface InboxObserved {
  readonly sql: Sql
  readonly schema: string
  readonly ledgerTable: string
  /** Per workflow, the messages sent to it, in the order they were sent. */
  readonly sent: ReadonlyMap<string, ReadonlyArray<InboxMessage>>
  readonly messagesPerWorkflow: number
  /** The workflows' `input.topic`, if they receive on one topic. */
  readonly topic?: string
  /** Processes that were killed: they may leave a record body run behind. */
  readonly interrupted: ReadonlySet<number>
}

export interface InboxVerdict {
  readonly violations: string[]
  /** How many messages had their record body run once, twice, … */
  readonly runsHistogram: Record<number, number>
  readonly received: number
  readonly timeouts: number
}

interface StepRow {
  readonly workflowId: string
  readonly stepId: number
  readonly name: string
  readonly kind: string
  readonly state: string
  readonly output: string | null
  readonly completedMs: number | null
}

const decode = (text: string): unknown => jsonSerializer.decode(text)

/** Where two sequences part: undefined when equal, else the first difference and the lengths. */
const difference = (got: ReadonlyArray<number>, expected: ReadonlyArray<number>): string | undefined => {
  if (JSON.stringify(got) === JSON.stringify(expected)) return undefined
  const i = got.findIndex((n, k) => n !== expected[k])
  const at = i === -1 ? Math.min(got.length, expected.length) : i
  const around = (l: ReadonlyArray<number>) => JSON.stringify(l.slice(Math.max(0, at - 2), at + 3))
  return `${got.length} values where ${expected.length} were expected; first difference at #${at}: ${around(got)} where ${around(expected)} was expected (from #${Math.max(0, at - 2)})`
}

export const verifyInbox = async (o: InboxObserved): Promise<InboxVerdict> => {
  const s = `"${o.schema}"`
  const violations: string[] = []
  const workflows = new Map(
    (await o.sql.unsafe(`SELECT id, status, output, error FROM ${s}.workflows`)).map((r) => [r["id"] as string, r]),
  )
  const steps: StepRow[] = (
    await o.sql.unsafe(
      `SELECT workflow_id, step_id, name, kind, state, output, completed_ms FROM ${s}.steps ORDER BY workflow_id, step_id`,
    )
  ).map((r) => ({
    workflowId: r["workflow_id"] as string,
    stepId: Number(r["step_id"]),
    name: r["name"] as string,
    kind: r["kind"] as string,
    state: r["state"] as string,
    output: r["output"] as string | null,
    completedMs: r["completed_ms"] === null ? null : Number(r["completed_ms"]),
  }))
  const messages = await o.sql.unsafe(
    `SELECT destination, seq, topic, payload, consumed_step FROM ${s}.messages ORDER BY destination, seq`,
  )
  const ledger = await readLedger(o.sql, o.ledgerTable)
  const runsOf = new Map<string, LedgerRow[]>()
  for (const l of ledger) {
    const key = `${l.workflowId}#${l.stepIndex}`
    runsOf.set(key, [...(runsOf.get(key) ?? []), l])
  }

  const sentTotal = [...o.sent.values()].reduce((n, l) => n + l.length, 0)
  const receivedWhere = new Map<number, string[]>()
  const runsHistogram: Record<number, number> = {}
  let received = 0
  let timeouts = 0

  for (const [id, sent] of o.sent) {
    const expected = expectedReceipts(sent, o.messagesPerWorkflow, o.topic)
    const bySent = new Map(sent.map((m) => [m.n, m]))
    const w = workflows.get(id)
    if (!w) {
      violations.push(`${id}: no workflow row`)
      continue
    }
    if (w["status"] !== "SUCCESS") violations.push(`${id}: status ${String(w["status"])} ${String(w["error"] ?? "")}`)
    else {
      const out = decode(w["output"] as string) as InboxOutput
      timeouts += out.timeouts
      const d = difference(out.got, expected)
      if (d) violations.push(`${id}: the output has ${d}`)
    }

    // What the workflow received, as recorded: its recv checkpoints in step order.
    const mine = steps.filter((c) => c.workflowId === id)
    for (const c of mine)
      if (c.state !== "done") violations.push(`${id} step ${c.stepId} (${c.kind} ${c.name}): left ${c.state}`)
    const recvs = mine.filter((c) => c.kind === "recv" && c.state === "done" && c.output !== null)
    received += recvs.length
    const got = recvs.map((c) => {
      const m = decode(c.output!) as InboxMessage
      receivedWhere.set(m.n, [...(receivedWhere.get(m.n) ?? []), `${id}#${c.stepId}`])
      if (m.to !== id) violations.push(`${id} step ${c.stepId}: received message ${m.n}, which was sent to ${m.to}`)
      if (m.topic !== c.name)
        violations.push(`${id} step ${c.stepId}: recv(${c.name}) received message ${m.n} of topic ${m.topic}`)
      return m.n
    })
    const d = difference(got, expected)
    if (d) violations.push(`${id}: the recv checkpoints (per-topic FIFO) hold ${d}`)
    // Per topic, in the order sent (also said by the line above; this names the topic that broke).
    for (const topic of new Set(sent.map((m) => m.topic))) {
      const order = sent.filter((m) => m.topic === topic).map((m) => m.n)
      const seen = got.filter((n) => bySent.get(n)?.topic === topic)
      const dt = difference(seen, order)
      if (dt) violations.push(`${id} topic ${topic}: received in the order sent? ${dt}`)
    }

    // The message rows: one per send, each consumed by the recv step that holds it.
    const rows = messages.filter((m) => m["destination"] === id)
    if (rows.length !== sent.length) violations.push(`${id}: ${rows.length} message rows for ${sent.length} sends`)
    const stepOf = new Map(recvs.map((c, i) => [got[i]!, c.stepId]))
    for (const r of rows) {
      const m = decode(r["payload"] as string) as InboxMessage
      const consumed = r["consumed_step"] === null ? undefined : Number(r["consumed_step"])
      if (consumed === undefined) violations.push(`${id}: message ${m.n} (${m.topic}) is still waiting`)
      else if (consumed !== stepOf.get(m.n))
        violations.push(
          `${id}: message ${m.n} is marked consumed by step ${consumed}, but recv step ${String(stepOf.get(m.n))} holds it`,
        )
    }

    // The record steps: their checkpoints hold the same sequence, and the ledger shows who ran their bodies.
    const records = mine.filter((c) => c.kind === "step" && c.name === "record" && c.state === "done")
    const recorded = records.flatMap((c) => (decode(c.output ?? "null") as RecordResult | null)?.v ?? [])
    const dr = difference(recorded, expected)
    if (dr) violations.push(`${id}: the record checkpoints hold ${dr}`)
    let index = 0
    for (const c of records) {
      const result = decode(c.output ?? "null") as RecordResult | null
      for (const v of result?.v ?? []) {
        const k = index++
        const runs = [...(runsOf.get(`${id}#${k}`) ?? [])].sort((a, b) => a.startedMs - b.startedMs || a.id - b.id)
        runsHistogram[runs.length] = (runsHistogram[runs.length] ?? 0) + 1
        const show = runs.map((r) => `pid ${r.pid} v=${r.value} started=${r.startedMs}`).join(" | ")
        const where = `${id} message #${k} (${v})`
        if (runs.length === 0) {
          violations.push(`${where}: recorded by pid ${String(result?.pid)}, but no ledger row`)
          continue
        }
        for (const r of runs) if (r.value !== v) violations.push(`${where}: a record body wrote ${r.value}: ${show}`)
        if (runs.at(-1)!.pid !== result?.pid)
          violations.push(`${where}: the checkpoint is pid ${String(result?.pid)}'s, the last body run is not: ${show}`)
        if (new Set(runs.map((r) => r.pid)).size !== runs.length)
          violations.push(`${where}: the record body ran more than once in one process: ${show}`)
        for (const r of runs) {
          if (r.pid !== result?.pid && !o.interrupted.has(r.pid))
            violations.push(
              `${where}: the body ran in pid ${r.pid}, which was not killed and did not record it: ${show}`,
            )
          if (c.completedMs !== null && r.startedMs > c.completedMs)
            violations.push(`${where}: pid ${r.pid} ran the body after the step was recorded: ${show}`)
        }
      }
    }
    const extra = ledger.filter((l) => l.workflowId === id && l.stepIndex >= index)
    if (extra.length > 0) violations.push(`${id}: ledger rows for unrecorded messages: ${JSON.stringify(extra)}`)
  }

  // Across workflows: every message sent was received exactly once.
  for (const sent of o.sent.values())
    for (const m of sent) {
      const at = receivedWhere.get(m.n) ?? []
      if (at.length === 0) violations.push(`message ${m.n} (to ${m.to}, ${m.topic}) was never received`)
      if (at.length > 1) violations.push(`message ${m.n} was received ${at.length} times: ${at.join(", ")}`)
    }
  const known = new Set([...o.sent.values()].flatMap((l) => l.map((m) => m.n)))
  for (const [n, at] of receivedWhere)
    if (!known.has(n)) violations.push(`message ${n}, never sent, was received at ${at.join(", ")}`)
  if (received !== sentTotal) violations.push(`${received} messages received, ${sentTotal} sent`)
  return { violations, runsHistogram, received, timeouts }
}
