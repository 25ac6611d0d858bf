/**
 * The message tests' vocabulary: what the inbox workflow receives and in which order, and how the test
 * talks to the processes that receive (fixtures/inboxWorker.ts) and send (fixtures/sender.ts).
 *
 * The inbox workflow receives `messages` messages: its i-th receive is on topic `topicAt(i)` ("job" three
 * times, then "ctl"), each with a timeout (a timed-out receive is simply tried again), and records each
 * message it got in the ledger through a plain `ctx.step` whose body writes on its own connection.
 */

/** The topic of the i-th receive of an inbox workflow. */
export const topicAt = (i: number): "job" | "ctl" => (i % 4 === 3 ? "ctl" : "job")

/** A message sent by the test: `n` is unique across the run. */
export interface InboxMessage {
  readonly n: number
  readonly to: string
  readonly topic: string
}

export interface InboxInput {
  readonly messages: number
  /** Each receive's timeout; none: receives wait as long as it takes. */
  readonly timeoutMs?: number
  /** Every receive on this topic instead of `topicAt`'s. */
  readonly topic?: string
  /** Record the messages in batches of this many, one step each (default 1: a step per message). */
  readonly recordEvery?: number
}

/** What the workflow returns: the message numbers in the order received, and how many receives timed out. */
export interface InboxOutput {
  readonly got: ReadonlyArray<number>
  readonly timeouts: number
}

/** What a record step returns (and its checkpoint holds): the message numbers it recorded, and its process. */
export interface RecordResult {
  readonly v: ReadonlyArray<number>
  readonly pid: number
}

/**
 * The order an inbox workflow receives messages in, given the order they were sent to it: per topic first in
 * first out, the topics taken as `topicAt` says (or all on `topic`).
 */
export const expectedReceipts = (sent: ReadonlyArray<InboxMessage>, messages: number, topic?: string): number[] => {
  const queues = new Map<string, number[]>()
  for (const m of sent) queues.set(m.topic, [...(queues.get(m.topic) ?? []), m.n])
  const out: number[] = []
  for (let i = 0; i < messages; i++) {
    const next = queues.get(topic ?? topicAt(i))?.shift()
    if (next === undefined) throw new Error(`receive #${i} on ${topic ?? topicAt(i)}: nothing was sent for it`)
    out.push(next)
  }
  return out
}

/** How many receives an inbox workflow can complete with only `sent` (in order) there to take. */
export const takeable = (sent: ReadonlyArray<InboxMessage>, messages: number): number => {
  const waiting = new Map<string, number>()
  for (const m of sent) waiting.set(m.topic, (waiting.get(m.topic) ?? 0) + 1)
  let i = 0
  for (; i < messages; i++) {
    const left = waiting.get(topicAt(i)) ?? 0
    if (left === 0) break
    waiting.set(topicAt(i), left - 1)
  }
  return i
}

/** Where the inbox worker stops itself with SIGKILL, counted per process. */
export type RecvFaultKind =
  /** Just before the n-th `receiveMessage` call (hits or misses): nothing is consumed. */
  | "beforeRecv"
  /** While the n-th `receiveMessage` call is on the wire (`delayMs` after it starts): it may or may not commit. */
  | "duringRecv"
  /** The n-th `receiveMessage` that took a message committed; the engine has not seen the answer. */
  | "afterRecv"
  /** Inside the n-th record step body, after its ledger row committed (the message is recorded as received). */
  | "recordBody"

export const recvFaultKinds: ReadonlyArray<RecvFaultKind> = ["beforeRecv", "duringRecv", "afterRecv", "recordBody"]

export interface RecvFault {
  readonly kind: RecvFaultKind
  readonly nth: number
  readonly delayMs?: number
}

export interface InboxWorkerConfig {
  readonly url: string
  readonly schema: string
  readonly ledgerUrl: string
  /** Schema-qualified ledger table (support/db.ts createLedger): `value` is the message number. */
  readonly ledgerTable: string
  readonly executorId: string
  readonly heartbeat: { readonly intervalMs: number; readonly leaseMs: number }
  /** Inbox workflows to start (or attach to) after launch. */
  readonly start: { readonly ids: ReadonlyArray<string>; readonly input: InboxInput }
  /** How long a record step body takes after its ledger row: uniform in [min, max] ms. */
  readonly stepMs: readonly [number, number]
  readonly fault?: RecvFault
}

export interface FaultEvent {
  readonly kind: RecvFaultKind
  readonly nth: number
  readonly pid: number
  readonly workflowId: string
  /** The recv's step (receive faults). */
  readonly stepId?: number
  /** The message the recv took (afterRecv). */
  readonly took?: number
  readonly detail: string
  readonly at: number
}

export interface InboxEvents {
  readonly READY: { readonly pid: number }
  readonly STARTED: { readonly count: number }
  readonly FAULT: FaultEvent
  readonly LOG: { readonly level: string; readonly message: string; readonly workflowId?: string }
  /** Every workflow this process started has finished. */
  readonly FINISHED: { readonly statuses: Record<string, number> }
  readonly STOPPED: { readonly pid: number }
}

/**
 * A process that sends `count` messages to one workflow, one after another, as soon as the test signals
 * SIGUSR2: message k is `{ n: senderBase(sender) + k, … }`.
 */
export interface SenderConfig {
  readonly url: string
  readonly schema: string
  readonly sender: number
  readonly destination: string
  readonly topic: string
  readonly count: number
}

export interface SenderEvents {
  readonly READY: { readonly pid: number }
  readonly SENT: { readonly sender: number; readonly count: number; readonly ms: number }
}

/** Sender s numbers its messages from senderBase(s) on. */
export const senderBase = (sender: number): number => sender * 1_000_000
