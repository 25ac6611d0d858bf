/**
 * The management plane on a large table: listing (a first page filtered by status, and a deep page reached
 * with a cursor) through the public API, against a plain indexed `SELECT … LIMIT 50` of the same rows on the
 * same pool; and prune throughput (each workflow with three checkpoints; prune also clears messages, events
 * and streams) against a plain `DELETE` of the same number of workflow rows. Tables of 100,000 and
 * 1,000,000 workflows (BENCH_QUICK: 5,000), filled with generate_series and analysed first.
 */
import { Effect } from "effect"
import postgres from "postgres"
import { Durably, type DurablyClient } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { benchSchema, guarded, interleaved, type BenchEnv, type Row, type Scenario } from "../harness.ts"

const name = "management"
const PAGE = 50
const PRUNE_BATCH = 1000

type Sql = postgres.Sql<Record<string, postgres.PostgresType>>

/** n workflows (1% ERROR, the rest SUCCESS, two names), one per millisecond, each with three checkpoints. */
const fill = async (sql: Sql, schema: string, n: number) => {
  await sql.unsafe(`INSERT INTO "${schema}".workflows (id, name, status, input, output, app_version, created_ms,
      updated_ms, completed_ms)
    SELECT lpad(i::text, 8, '0'), CASE WHEN i % 2 = 0 THEN 'checkout' ELSE 'refund' END,
      CASE WHEN i % 100 = 7 THEN 'ERROR' ELSE 'SUCCESS' END, '{"order":' || i || '}', '"ok"', 'v1', i, i, i
    FROM generate_series(1, ${n}) i`)
  await sql.unsafe(`INSERT INTO "${schema}".steps (workflow_id, step_id, name, kind, state, seq, output, attempts,
      started_ms, completed_ms)
    SELECT lpad(i::text, 8, '0'), s, 'step ' || s, 'step', 'done', s, '"v"', 1, i, i
    FROM generate_series(1, ${n}) i, generate_series(0, 2) s`)
  await sql.unsafe(`ANALYZE "${schema}".workflows`)
  await sql.unsafe(`ANALYZE "${schema}".steps`)
}

const columns =
  "id, name, status, cancel_reason, executor_id, epoch, app_version, recovery_attempts, deadline_ms, created_ms, updated_ms, completed_ms, queue, partition_key, parent_id, parent_step"

const tableRows = async (env: BenchEnv, url: string, n: number): Promise<Row[]> => {
  const schema = benchSchema()
  const sql: Sql = postgres(url, { max: 4, onnotice: () => undefined })
  const store = postgresStore({ sql, schema, max: 4 })
  let client: DurablyClient | undefined
  try {
    client = await Durably.client({ store, logger: false })
    const t0 = performance.now()
    await fill(sql, schema, n)
    env.log(
      `  ${n.toLocaleString("en")} workflows, ${(3 * n).toLocaleString("en")} checkpoints filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    )
    const rounds = env.quick ? 2 : 10
    const reps = env.quick ? 3 : 20
    const W = `"${schema}".workflows`
    const c = client
    const rows: Row[] = []

    // First page of failures, newest first.
    const first = await interleaved({
      rounds,
      warmup: async () => {
        await c.workflows.list({ status: "ERROR", limit: PAGE })
        await sql.unsafe(
          `SELECT ${columns} FROM ${W} WHERE status = 'ERROR' ORDER BY created_ms DESC, id DESC LIMIT ${PAGE}`,
        )
      },
      subject: {
        label: `workflows.list status=ERROR (${PAGE})`,
        opsPerRound: reps,
        run: async () => {
          for (let i = 0; i < reps; i++) await c.workflows.list({ status: "ERROR", limit: PAGE })
        },
      },
      reference: {
        label: `SELECT … WHERE status LIMIT ${PAGE}`,
        opsPerRound: reps,
        run: async () => {
          for (let i = 0; i < reps; i++)
            await sql.unsafe(
              `SELECT ${columns} FROM ${W} WHERE status = 'ERROR' ORDER BY created_ms DESC, id DESC LIMIT ${PAGE}`,
            )
        },
      },
    })
    rows.push({
      scenario: name,
      store: `postgres, ${n.toLocaleString("en")} rows: first page`,
      status: "ok",
      ...first,
      details: { n },
      notes: [],
    })

    // A deep page: the page after a cursor halfway down the table, filtered by name.
    const mid = Math.floor(n / 2)
    const start = await c.workflows.list({ name: "checkout", createdBefore: mid, limit: PAGE })
    const cursor = start.nextCursor!
    const last = start.workflows[start.workflows.length - 1]!
    const deepRef = `SELECT ${columns} FROM ${W} WHERE name = 'checkout' AND created_ms < ${mid}
      AND (created_ms, id) < (${last.createdAt.getTime()}, '${last.id}') ORDER BY created_ms DESC, id DESC LIMIT ${PAGE}`
    const deep = await interleaved({
      rounds,
      warmup: async () => {
        await c.workflows.list({ name: "checkout", createdBefore: mid, limit: PAGE, cursor })
        await sql.unsafe(deepRef)
      },
      subject: {
        label: `workflows.list name, cursor at ${mid.toLocaleString("en")}`,
        opsPerRound: reps,
        run: async () => {
          for (let i = 0; i < reps; i++)
            await c.workflows.list({ name: "checkout", createdBefore: mid, limit: PAGE, cursor })
        },
      },
      reference: {
        label: `SELECT … keyset LIMIT ${PAGE}`,
        opsPerRound: reps,
        run: async () => {
          for (let i = 0; i < reps; i++) await sql.unsafe(deepRef)
        },
      },
    })
    rows.push({
      scenario: name,
      store: `postgres, ${n.toLocaleString("en")} rows: deep page`,
      status: "ok",
      ...deep,
      details: { n, mid },
      notes: [],
    })

    // Prune: batches of finished workflows with their checkpoints, oldest first, against a plain DELETE.
    const batches = env.quick ? 1 : 3
    const pruned = await interleaved({
      rounds,
      warmup: async () => undefined,
      subject: {
        label: `prune, batches of ${PRUNE_BATCH} (+3 steps each)`,
        opsPerRound: batches * PRUNE_BATCH,
        run: async () => {
          // One bounded batch per call, as workflows.prune and retention run them (the oldest first).
          for (let i = 0; i < batches; i++)
            await Effect.runPromise(
              store.management.prune({ before: Date.now(), status: ["SUCCESS"], limit: PRUNE_BATCH, exclusive: true }),
            )
        },
      },
      reference: {
        label: `DELETE ${PRUNE_BATCH} workflow rows`,
        opsPerRound: batches * PRUNE_BATCH,
        run: async () => {
          for (let i = 0; i < batches; i++)
            await sql.unsafe(`DELETE FROM ${W} WHERE id IN (SELECT id FROM ${W} WHERE status = 'SUCCESS'
              ORDER BY created_ms DESC LIMIT ${PRUNE_BATCH})`)
        },
      },
    })
    rows.push({
      scenario: name,
      store: `postgres, ${n.toLocaleString("en")} rows: prune`,
      status: "ok",
      ...pruned,
      details: { n, batch: PRUNE_BATCH },
      notes: [
        `prune: ${(1000 / pruned.measured.perOpMs).toFixed(0)} workflows/s with their checkpoints (reference DELETE of bare rows: ${(1000 / pruned.reference.perOpMs).toFixed(0)}/s)`,
      ],
    })
    return rows
  } finally {
    await client?.close()
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await sql.end({ timeout: 1 })
  }
}

export const management: Scenario = {
  name,
  description: `listing (first page by status, deep page by cursor) against a plain indexed SELECT … LIMIT ${PAGE}; prune against a plain DELETE`,
  run: async (env) => {
    const url = env.serverUrl
    if (!url) {
      env.log(`  skipped: ${env.serverNote ?? "no server"}`)
      return [{ scenario: name, store: "postgres (server)", status: "skipped", note: env.serverNote ?? "" }]
    }
    const rows: Row[] = []
    for (const n of env.quick ? [5_000] : [100_000, 1_000_000]) {
      env.log(`${name}, ${n.toLocaleString("en")} workflows:`)
      const result = await guarded(name, `postgres, ${n} rows`, env, async () => {
        const r = await tableRows(env, url, n)
        rows.push(...r.slice(0, -1))
        return r[r.length - 1]!
      })
      rows.push(result)
    }
    return rows
  },
}
