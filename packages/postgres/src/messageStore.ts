/**
 * Messages, events and streams on the SQL store: each method is one statement (see messageQueries.ts).
 * A write that wrote nothing is explained from the outcome row it returned: fenced, a done checkpoint
 * already there (a retry), or a precondition not met (no message waiting, no such destination).
 */
import type { Effect } from "effect"
import { StreamClosedError } from "@durably/core"
import type { Checkpoint, FencedError, Received, SendResult, Store, StoreError, StreamEntry, Wake } from "@durably/core"
import type { Row, SqlClient } from "./client.ts"
import { doneIn, fencedBy } from "./fencing.ts"
import type { MessageQueries } from "./messageQueries.ts"
import { checkpointParams } from "./rows.ts"

type Run = <A>(operation: string, run: (now: number) => Promise<A>) => Effect.Effect<A, StoreError>
type RunFenced = <A>(operation: string, run: (now: number) => Promise<A>) => Effect.Effect<A, FencedError | StoreError>
type RunAppend = <A>(
  operation: string,
  run: (now: number) => Promise<A>,
) => Effect.Effect<A, FencedError | StreamClosedError | StoreError>

export interface MessageDeps {
  readonly client: SqlClient
  readonly queries: MessageQueries
  readonly op: Run
  readonly fencedOr: RunFenced
  /** As `fencedOr`, letting StreamClosedError through. */
  readonly fencedOrClosed: RunAppend
  /** Why the checkpoint at `stepId` was not written, asked again: its done winner, or a FencedError thrown. */
  readonly explain: (id: string, epoch: number, stepId: number) => Promise<Checkpoint>
  /** A committed write this process made (for subscribers here, when no notification will tell them). */
  readonly wrote: (wake: Wake) => void
}

type MessageOps = Pick<
  Store,
  "sendMessage" | "sendFromWorkflow" | "receiveMessage" | "setEvent" | "getEvent" | "appendStream" | "readStream"
>

const sent: SendResult = { _tag: "Sent" }
const duplicate: SendResult = { _tag: "Duplicate" }
const notFound: SendResult = { _tag: "NotFound" }

/** The SQLSTATE of `stream_closed` (0002_messages.sql), whose detail is the key. */
const streamClosedState = "DUR01"

/** Entries as the statement's two arrays; a key may take no entry after its close. */
const streamArrays = (id: string, entries: ReadonlyArray<StreamEntry>) => {
  const closed = new Set<string>()
  const keys: string[] = []
  const values: Array<string | null> = []
  for (const entry of entries) {
    if (closed.has(entry.key)) throw new StreamClosedError({ workflowId: id, key: entry.key })
    keys.push(entry.key)
    if ("value" in entry) values.push(entry.value)
    else {
      closed.add(entry.key)
      values.push(null)
    }
  }
  return { keys, values }
}

/** LIMIT for a count that may be fractional, negative or unbounded. */
const limitOf = (limit: number) => (Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : null)

export const makeMessageOps = (deps: MessageDeps): MessageOps => {
  const { client, queries: q, op, fencedOr, fencedOrClosed, explain, wrote } = deps

  /** The outcome of a write with its checkpoint: `ok` when written, else the refusal or the standing winner. */
  const settle = async <A>(
    row: Row | undefined,
    id: string,
    epoch: number,
    cp: Checkpoint,
    ok: () => A,
    stood: (done: Checkpoint) => A,
    unmet: () => A | undefined,
  ): Promise<A> => {
    if (Number(row?.["written"]) > 0) return ok()
    const fenced = fencedBy(row, id, epoch)
    if (fenced) throw fenced
    const done = doneIn(row)
    if (done) return stood(done)
    const answer = unmet()
    if (answer !== undefined) return answer
    // The precondition held, yet the checkpoint lost to one committed meanwhile: ask which.
    return stood(await explain(id, epoch, cp.stepId))
  }

  return {
    sendMessage: (m) =>
      op("sendMessage", async (now) => {
        const [row] = await client.query(q.sendMessage, [
          m.destination,
          m.topic,
          m.payload,
          m.idempotencyKey ?? null,
          now,
          m.traceContext ?? null,
        ])
        if (!(Number(row?.["found"]) > 0)) return notFound
        if (!(Number(row?.["sent"]) > 0)) return duplicate
        wrote({ kind: "message", workflowId: m.destination, topic: m.topic })
        return sent
      }),

    sendFromWorkflow: (sender, epoch, m, cp) =>
      fencedOr("sendFromWorkflow", async (now) => {
        const [row] = await client.query(q.sendFromWorkflow, [
          sender,
          epoch,
          ...checkpointParams(cp),
          m.destination,
          m.topic,
          m.payload,
          m.idempotencyKey,
          now,
          m.traceContext ?? null,
        ])
        const added = Number(row?.["sent"]) > 0
        if (added) wrote({ kind: "message", workflowId: m.destination, topic: m.topic })
        const result: SendResult = added ? sent : duplicate
        return settle<SendResult>(
          row,
          sender,
          epoch,
          cp,
          () => result,
          () => result,
          () => (Number(row?.["found"]) > 0 ? undefined : notFound),
        )
      }),

    receiveMessage: (id, epoch, topic, cp) =>
      fencedOr("receiveMessage", async (now) => {
        const [row] = await client.query(q.receiveMessage, [id, epoch, ...checkpointParams(cp), topic, now])
        const carried = row?.["trace_context"]
        return settle<Received | null>(
          row,
          id,
          epoch,
          cp,
          () => ({
            ...cp,
            output: row?.["payload"] as string,
            ...(typeof carried === "string" ? { traceContext: carried } : {}),
          }),
          (done) => done,
          () => (Number(row?.["found"]) > 0 ? undefined : null),
        ).then((c) => c ?? undefined)
      }),

    setEvent: (id, epoch, key, value, cp) =>
      fencedOr("setEvent", async (now) => {
        const [row] = await client.query(q.setEvent, [id, epoch, ...checkpointParams(cp), key, value, now])
        return settle(
          row,
          id,
          epoch,
          cp,
          () => {
            wrote({ kind: "event", workflowId: id, key })
            return cp
          },
          (done) => done,
          () => undefined,
        )
      }),

    getEvent: (workflowId, key) =>
      op("getEvent", async () => {
        const [row] = await client.query(q.getEvent, [workflowId, key])
        return row ? (row["value"] as string) : undefined
      }),

    appendStream: (id, epoch, entries, cp) =>
      fencedOrClosed("appendStream", async () => {
        const { keys, values } = streamArrays(id, entries)
        const [row] = await client
          .query(q.appendStream, [id, epoch, ...checkpointParams(cp), keys, values])
          .catch((e: unknown) => {
            const { code, detail } = (e ?? {}) as { code?: unknown; detail?: unknown }
            if (code !== streamClosedState) throw e
            throw new StreamClosedError({ workflowId: id, key: typeof detail === "string" ? detail : "" })
          })
        return settle(
          row,
          id,
          epoch,
          cp,
          () => {
            for (const key of new Set(keys)) wrote({ kind: "stream", workflowId: id, key })
            return cp
          },
          (done) => done,
          () => undefined,
        )
      }),

    readStream: (workflowId, key, from, limit) =>
      op("readStream", async () => {
        const start = Math.max(0, Math.floor(from))
        const rows = await client.query(q.readStream, [workflowId, key, start, limitOf(limit)])
        const values = rows
          .filter((r) => r["stream_offset"] !== null && r["stream_offset"] !== undefined)
          .map((r) => ({ offset: Number(r["stream_offset"]), value: r["value"] as string }))
        const head = rows[0]
        const closed =
          head?.["closed_step"] !== null &&
          head?.["closed_step"] !== undefined &&
          start + values.length >= Number(head["next_offset"])
        return { values, closed }
      }),
  }
}
