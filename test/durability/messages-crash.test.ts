/**
 * Receiving under SIGKILL: a worker process runs inbox workflows that each receive MESSAGES messages
 * (`ctx.recv` with a timeout, on topics "job" and "ctl" in a fixed pattern) and record each one in a ledger
 * through a plain `ctx.step` whose body writes on its own connection. This test process sends the messages
 * with `durably.send` from a client engine on its own store (unique numbers; to each workflow one after
 * another, the topics interleaved by the seeded plan), a share per round, while the worker is SIGKILLed
 * again and again: just before a `receiveMessage` call, while one is on the wire, right after one that took a
 * message committed, and inside the record step's body that follows (fixtures/inboxWorker.ts). Each restart
 * uses the same executorId and takes its workflows back at launch; sends go on while it is down.
 *
 * At the end (support/inboxVerify.ts): every message sent was received exactly once — the recv checkpoints
 * hold each number once, at its destination, none lost, none duplicated, none left waiting — in per-topic
 * FIFO order per workflow, and the ledger shows a record body ran again only in a killed process.
 *
 * The fault plan comes from a seeded PRNG (printed; DURABILITY_SEED replays it — the interleavings are real
 * and vary). Scale: DURABILITY_RECV_WORKFLOWS (default 6), DURABILITY_RECV_MESSAGES per workflow (default
 * 32), DURABILITY_ROUNDS (default 12, at least 10).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { databaseUrl, dropSchema, freshSchema } from "../../packages/postgres/test/pg.ts"
import { connect, createLedger, waitAllSucceeded, type Sql } from "./support/db.ts"
import { killAllFixtures, spawnFixture, type Exit } from "./support/fixtureProcess.ts"
import {
  recvFaultKinds,
  takeable,
  topicAt,
  type FaultEvent,
  type InboxEvents,
  type InboxMessage,
  type InboxWorkerConfig,
  type RecvFault,
  type RecvFaultKind,
} from "./support/inbox.ts"
import { verifyInbox } from "./support/inboxVerify.ts"
import { between, prng, runSeed, shuffle } from "./support/prng.ts"
import { waitFor } from "./support/wait.ts"

const WORKFLOWS = Number(process.env["DURABILITY_RECV_WORKFLOWS"] ?? 6)
const ROUNDS = Math.max(10, Number(process.env["DURABILITY_ROUNDS"] ?? 12))
// Work for every round, and a share left for the last worker.
const MESSAGES = Math.max(2 * ROUNDS, Number(process.env["DURABILITY_RECV_MESSAGES"] ?? 32))
const RECV_TIMEOUT_MS = 250

/** Every kind at least twice, the rest drawn at random, shuffled. */
const makePlan = (random: () => number, rounds: number): RecvFaultKind[] => {
  const plan = [...recvFaultKinds, ...recvFaultKinds]
  while (plan.length < rounds) plan.push(recvFaultKinds[between(random, 0, recvFaultKinds.length - 1)]!)
  return shuffle(random, plan)
}

interface Round {
  readonly index: number
  readonly pid: number
  readonly fault: RecvFault
  readonly exit: Exit
  readonly event: FaultEvent | undefined
  readonly consumedBefore: number
}

describe("messages under SIGKILL", () => {
  let url: string
  let schema: string
  let sql: Sql
  let ledger: string
  let client: Durably | undefined

  beforeAll(async () => {
    url = await databaseUrl()
    schema = freshSchema("dur_recv")
    sql = connect(url)
    ledger = await createLedger(sql, schema)
  })

  afterAll(async () => {
    await killAllFixtures()
    await client?.shutdown()
    await sql?.end({ timeout: 1 })
    if (url && schema) await dropSchema(url, schema)
  })

  it(`SIGKILLed ${ROUNDS} times around receiving, ${WORKFLOWS} workflows × ${MESSAGES} messages are each received exactly once, in order per topic`, async () => {
    const seed = runSeed("messages under SIGKILL")
    const random = prng(seed)
    const plan = makePlan(random, ROUNDS)
    const ids = Array.from({ length: WORKFLOWS }, (_, i) => `inbox-${String(i).padStart(2, "0")}`)
    // Per workflow, what is sent to it, in order: the topics it will receive on, interleaved by the plan.
    const sends = new Map<string, InboxMessage[]>(
      ids.map((id, w) => [
        id,
        shuffle(
          random,
          Array.from({ length: MESSAGES }, (_, i) => topicAt(i)),
        ).map((topic, k) => ({ n: w * 1000 + k, to: id, topic })),
      ]),
    )
    const config = (fault?: RecvFault): InboxWorkerConfig => ({
      url,
      schema,
      ledgerUrl: url,
      ledgerTable: ledger,
      executorId: "recv-worker",
      heartbeat: { intervalMs: 200, leaseMs: 1000 },
      start: { ids, input: { messages: MESSAGES, timeoutMs: RECV_TIMEOUT_MS } },
      stepMs: [1, 15],
      ...(fault ? { fault } : {}),
    })

    // The first worker creates the workflows (a send to a workflow that does not exist fails).
    const spawn = (fault?: RecvFault) => spawnFixture<InboxEvents>("inboxWorker.ts", config(fault), "inbox worker")
    let worker = spawn()
    await worker.waitForEvent("STARTED")
    await worker.stop()

    // The senders: one loop per workflow, sending in order, up to what the current round has released.
    const sender = await Durably.launch({
      store: postgresStore({ url, schema, max: 4 }),
      workflows: [],
      executorId: "sender",
      heartbeat: false,
      recover: false,
      logger: false,
    })
    client = sender
    let released = 0
    let bump = () => undefined as void
    let changed = new Promise<void>((resolve) => (bump = resolve))
    const release = (perWorkflow: number) => {
      released = perWorkflow
      const wake = bump
      changed = new Promise<void>((resolve) => (bump = resolve))
      wake()
    }
    let sendFailure: unknown
    const sending = Promise.all(
      [...sends].map(async ([id, messages], w) => {
        const gaps = prng(seed + w + 1)
        for (const [k, m] of messages.entries()) {
          while (released <= k) await changed
          // Mostly back to back; now and then a pause long enough for a receive to time out.
          await new Promise((r) => setTimeout(r, gaps() < 0.85 ? between(gaps, 0, 10) : between(gaps, 100, 400)))
          await sender.send(id, m.topic, m).catch((e: unknown) => {
            sendFailure ??= e
            throw e
          })
        }
      }),
    )
    sending.catch(() => undefined)

    const consumedCount = async () =>
      Number(
        (await sql.unsafe(`SELECT count(*)::int AS n FROM "${schema}".messages WHERE consumed_step IS NOT NULL`))[0]?.[
          "n"
        ],
      )
    const progress = async () => {
      const [m] = await sql.unsafe(
        `SELECT count(*)::int AS sent, count(consumed_step)::int AS consumed FROM "${schema}".messages`,
      )
      const steps = await sql.unsafe(
        `SELECT kind, state, count(*)::int AS n FROM "${schema}".steps GROUP BY kind, state ORDER BY kind, state`,
      )
      return `\nreleased ${released} per workflow; messages ${JSON.stringify(m)}; checkpoints ${JSON.stringify(steps)}`
    }
    // What each round releases (per workflow): at least its share, and enough that the workflows can take
    // more than they could before (a receive waits for its topic, so not every message sent can be taken).
    const consumable = (released: number) =>
      [...sends.values()].reduce((sum, sent) => sum + takeable(sent.slice(0, released), MESSAGES), 0)
    const releases: number[] = []
    for (let index = 0, previous = 0; index < ROUNDS; index++) {
      let to = Math.max(previous, Math.ceil((MESSAGES * (index + 1)) / (ROUNDS + 1)))
      while (to < MESSAGES && consumable(to) <= consumable(previous)) to++
      if (consumable(to) <= consumable(previous))
        throw new Error(`seed ${seed}: no work left for round ${index}; raise DURABILITY_RECV_MESSAGES`)
      releases.push((previous = to))
    }

    const rounds: Round[] = []
    for (const [index, kind] of plan.entries()) {
      const consumedBefore = await consumedCount()
      const releaseTo = releases[index]!
      // This round's worker takes (and records) at least this many messages before it has nothing to do;
      // each of them is at least one receiveMessage call, one that took a message, one record body.
      const available = consumable(releaseTo) - consumedBefore
      const fault: RecvFault = {
        kind,
        nth: between(random, 1, Math.max(1, available)),
        ...(kind === "duringRecv" ? { delayMs: between(random, 0, 2) } : {}),
      }
      worker = spawn(fault)
      const current = worker
      // Released once it runs, so that sends meet receives waiting for them (and the rest of the previous
      // round's sends went on while no worker was up).
      // (Recovery at launch may already reach the fault on the backlog.)
      await waitFor(`worker ${current.pid} to be up`, () => current.events("READY").length > 0 || current.exited(), {
        intervalMs: 10,
        detail: () => current.tail(),
      })
      release(releaseTo)
      const exit = await waitFor(
        `round ${index} (${kind} #${fault.nth}) to kill worker ${current.pid}`,
        () => {
          if (sendFailure) throw sendFailure as Error
          return current.exited()
        },
        { intervalMs: 20, timeoutMs: 45_000, detail: async () => `${await progress()}${current.tail()}` },
      )
      if (exit.signal !== "SIGKILL")
        throw new Error(
          `round ${index}: worker ${current.pid} exited without its fault: ${JSON.stringify(exit)}${current.tail()}`,
        )
      rounds.push({ index, pid: current.pid, fault, exit, event: current.events("FAULT")[0], consumedBefore })
    }

    release(MESSAGES)
    const last = spawn()
    await waitAllSucceeded(sql, schema, ids, { context: () => last.tail(), timeoutMs: 45_000 })
    await sending
    // Its own starts (each attaching to a workflow that exists) may still be running: let them end first.
    await last.waitForEvent("STARTED")
    expect((await last.stop()).code, last.tail()).toBe(0)

    // Which message each killed recv step holds now, and whether its consume committed before the kill.
    const consumedAt = async (e: FaultEvent) =>
      (
        await sql.unsafe(
          `SELECT payload, consumed_ms FROM "${schema}".messages WHERE destination = $1 AND consumed_step = $2`,
          [e.workflowId, e.stepId ?? -1],
        )
      ).map((m) => ({ n: (JSON.parse(m["payload"] as string) as InboxMessage).n, ms: Number(m["consumed_ms"]) }))[0]
    const outcomes = new Map<number, string>()
    const violations: string[] = []
    for (const r of rounds) {
      const e = r.event
      if (!e || e.stepId === undefined || e.kind === "recordBody") continue
      const held = await consumedAt(e)
      const before = held !== undefined && held.ms <= e.at
      if (e.kind === "duringRecv")
        outcomes.set(r.index, before ? ` (the consume committed: ${held.n})` : " (the consume did not commit)")
      if (e.kind === "beforeRecv" && before)
        violations.push(`round ${r.index}: killed before receiveMessage, yet message ${held.n} was consumed then`)
      if (e.kind === "afterRecv" && held?.n !== e.took)
        violations.push(
          `round ${r.index}: the killed process took message ${String(e.took)} at ${e.workflowId} step ${e.stepId}, but that step now holds ${JSON.stringify(held)}`,
        )
    }
    const summary = rounds
      .map(
        (r) =>
          `  round ${r.index}: pid ${r.pid} ${r.fault.kind} #${r.fault.nth}${r.fault.delayMs === undefined ? "" : ` +${r.fault.delayMs}ms`} (${r.consumedBefore} consumed before) → ${r.event ? `${r.event.workflowId} ${r.event.detail}${outcomes.get(r.index) ?? ""}` : "no FAULT event"}`,
      )
      .join("\n")
    console.log(`[messages under SIGKILL] seed ${seed}\n${summary}\n  final: pid ${last.pid}`)

    for (const r of rounds) if (!r.event) violations.push(`round ${r.index}: killed without a FAULT event`)
    for (const kind of recvFaultKinds)
      if (!rounds.some((r) => r.event?.kind === kind)) violations.push(`fault kind ${kind} was never hit`)
    if (rounds.length < 10) violations.push(`only ${rounds.length} kill rounds`)
    const verdict = await verifyInbox({
      sql,
      schema,
      ledgerTable: ledger,
      sent: sends,
      messagesPerWorkflow: MESSAGES,
      interrupted: new Set(rounds.map((r) => r.pid)),
    })
    console.log(
      `[messages under SIGKILL] ${verdict.received} received of ${WORKFLOWS * MESSAGES} sent; ${verdict.timeouts} receives timed out; record body runs per message: ${JSON.stringify(verdict.runsHistogram)}`,
    )
    expect([...violations, ...verdict.violations], `seed ${seed}\n${summary}`).toEqual([])
  }, 120_000)
})
