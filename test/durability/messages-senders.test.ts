/**
 * Many senders, one receiver, all real processes: SENDERS sender processes (fixtures/sender.ts, each a
 * client engine on its own store) send PER_SENDER messages each with `durably.send`, at the same time, to one
 * inbox workflow that a worker process (fixtures/inboxWorker.ts) runs: it receives them all with `ctx.recv`
 * as they arrive (woken across processes) and records them in a ledger, a step per batch. The end-to-end
 * version of the store-level test in packages/postgres/test/messages.sql.test.ts.
 *
 * At the end: all SENDERS × PER_SENDER messages were received exactly once (the recv checkpoints, the
 * workflow's output, the record steps and the ledger agree), each sender's in the order it sent them, and
 * nothing is left waiting. Scale: DURABILITY_SENDERS (default 4), DURABILITY_SENDER_MESSAGES (default 1000).
 */
import { describe, expect, it } from "vitest"
import { waitAllSucceeded } from "./support/db.ts"
import { killAllFixtures, spawnFixture } from "./support/fixtureProcess.ts"
import {
  senderBase,
  type InboxEvents,
  type InboxMessage,
  type InboxWorkerConfig,
  type SenderConfig,
  type SenderEvents,
} from "./support/inbox.ts"
import { verifyInbox } from "./support/inboxVerify.ts"
import { useLedgerDb } from "./support/ledgerDb.ts"

const SENDERS = Number(process.env["DURABILITY_SENDERS"] ?? 4)
const PER_SENDER = Number(process.env["DURABILITY_SENDER_MESSAGES"] ?? 1000)
const TOPIC = "jobs"
const RECORD_EVERY = 50

describe("many sender processes, one receiving workflow", () => {
  const db = useLedgerDb("dur_senders", killAllFixtures)

  it(`${SENDERS} sender processes × ${PER_SENDER} messages: the workflow receives each once, each sender's in order`, async () => {
    const id = "bulk-inbox"
    const total = SENDERS * PER_SENDER
    const config: InboxWorkerConfig = {
      url: db.url,
      schema: db.schema,
      ledgerUrl: db.url,
      ledgerTable: db.ledger,
      executorId: "bulk-worker",
      heartbeat: { intervalMs: 500, leaseMs: 5000 },
      start: { ids: [id], input: { messages: total, topic: TOPIC, recordEvery: RECORD_EVERY } },
      stepMs: [0, 0],
    }
    const worker = spawnFixture<InboxEvents>("inboxWorker.ts", config, "bulk worker")
    await worker.waitForEvent("STARTED")

    // Started one after another (a process start is a burst of CPU; other test files run meanwhile), then
    // all sent off at once.
    const senders = []
    for (let sender = 0; sender < SENDERS; sender++) {
      const c: SenderConfig = {
        url: db.url,
        schema: db.schema,
        sender,
        destination: id,
        topic: TOPIC,
        count: PER_SENDER,
      }
      const s = spawnFixture<SenderEvents>("sender.ts", c, `sender ${sender}`)
      await s.waitForEvent("READY")
      senders.push(s)
    }
    const started = performance.now()
    for (const s of senders) s.signal("SIGUSR2")
    const sent = await Promise.all(senders.map((s) => s.waitForEvent("SENT", undefined, { timeoutMs: 90_000 })))
    const sendMs = performance.now() - started
    for (const s of senders) expect((await s.exit).code, s.tail()).toBe(0)

    await waitAllSucceeded(db.sql, db.schema, [id], { timeoutMs: 90_000, context: () => worker.tail() })
    const receiveMs = performance.now() - started
    await worker.waitForEvent("FINISHED")
    expect((await worker.stop()).code, worker.tail()).toBe(0)

    // Messages of different senders interleave in any way; each sender's keep their order.
    const bySender = (n: number) => Math.floor(n / senderBase(1))
    const got = (
      await db.sql.unsafe(
        `SELECT output FROM "${db.schema}".steps WHERE workflow_id = $1 AND kind = 'recv' AND state = 'done' ORDER BY step_id`,
        [id],
      )
    ).map((r) => (JSON.parse(r["output"] as string) as InboxMessage).n)
    const violations: string[] = []
    for (let s = 0; s < SENDERS; s++) {
      const mine = got.filter((n) => bySender(n) === s).map((n) => n - senderBase(s))
      const expected = Array.from({ length: PER_SENDER }, (_, k) => k)
      if (JSON.stringify(mine) !== JSON.stringify(expected))
        violations.push(
          `sender ${s}: received ${mine.length} of ${PER_SENDER}, first out of order at #${mine.findIndex((n, k) => n !== k)}`,
        )
    }
    // The interleaving that happened is the order the workflow must have seen them in: verify against it.
    const received = got.map((n): InboxMessage => ({ n, to: id, topic: TOPIC }))
    const verdict = await verifyInbox({
      sql: db.sql,
      schema: db.schema,
      ledgerTable: db.ledger,
      sent: new Map([[id, received]]),
      messagesPerWorkflow: total,
      topic: TOPIC,
      interrupted: new Set(),
    })
    const switches = got.filter((n, i) => i > 0 && bySender(n) !== bySender(got[i - 1]!)).length
    console.log(
      `[senders] ${SENDERS} × ${PER_SENDER} sent in ${sent.map((s) => `${s.ms} ms`).join(", ")} (all: ${Math.round(sendMs)} ms); ` +
        `all received and recorded ${Math.round(receiveMs)} ms after the start; the receive order switches sender ${switches} times`,
    )
    expect(got, "the recv checkpoints").toHaveLength(total)
    expect([...violations, ...verdict.violations]).toEqual([])
  }, 120_000)
})
