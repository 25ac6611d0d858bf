/**
 * Wake-up latency, p50 and p99: how long from `durably.send` until a workflow waiting in `ctx.recv` has the
 * message in its code, and from `start` until `handle.result()` resolves for a one-step workflow awaited
 * from another engine; against one INSERT round trip sampled in the same rounds. The stores keep their
 * defaults (on Postgres: NOTIFY on, fallback poll 1 s), so the numbers say how fast notifications wake.
 * Details in ./latency/server.ts and ./latency/embedded.ts.
 *
 * DBOS Transact's start → result on the same server, against the same INSERT reference sampled in its own
 * rounds, in a child process with a fresh system database: ./dbos/latency.ts.
 */
import type { BenchEnv, Row, Scenario } from "../harness.ts"
import { dbosLatencyRows, dbosStore } from "./dbos/parent.ts"
import { embeddedRows } from "./latency/embedded.ts"
import { serverRows } from "./latency/server.ts"

const name = "latency"

/** Rows of one measurement, or a "failed" row saying why (the run then exits non-zero). */
const guard =
  (env: BenchEnv) =>
  async (store: string, scenario: string, run: () => Promise<Row[]>): Promise<Row[]> => {
    try {
      return await run()
    } catch (e) {
      env.log(`  FAILED (${scenario}, ${store}): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
      return [{ scenario, store, status: "failed", note: e instanceof Error ? e.message : String(e) }]
    }
  }

export const latency: Scenario = {
  name,
  description:
    "send→recv wake-up and start→result() (awaited from another engine), p50 and p99, against one INSERT round trip sampled in the same rounds",
  run: async (env) => {
    const rows: Row[] = []
    env.log(`${name}, postgres server store:`)
    const server = env.serverUrl
    if (!server) {
      env.log(`  skipped: ${env.serverNote ?? "no server"}`)
      for (const scenario of ["send→recv latency", "result() latency"])
        rows.push({ scenario, store: "postgres (server)", status: "skipped", note: env.serverNote ?? "" })
    } else rows.push(...(await guard(env)("postgres (server)", name, () => serverRows(env, server, guard(env)))))
    // DBOS Transact's start → result on the same server, in a child process (./dbos/latency.ts).
    env.log(`${name}, DBOS Transact (server):`)
    if (!server)
      rows.push({ scenario: "result() latency", store: dbosStore(), status: "skipped", note: env.serverNote ?? "" })
    else {
      const durablyP50 = rows.find((r) => r.status === "ok" && r.scenario === "result() latency p50")
      for (const row of await guard(env)(dbosStore(), "result() latency", () => dbosLatencyRows(env, server)))
        rows.push(
          row.status === "ok" && row.details["percentile"] === 0.5 && durablyP50?.status === "ok"
            ? {
                ...row,
                notes: [
                  ...row.notes,
                  `p50 DBOS / Durably (start on engine A → result() on engine B): ${(row.measured.perOpMs / durablyP50.measured.perOpMs).toFixed(2)}× (${row.measured.perOpMs.toFixed(2)} vs ${durablyP50.measured.perOpMs.toFixed(2)} ms)`,
                ],
              }
            : row,
        )
    }
    env.log(`${name}, embedded store:`)
    rows.push(...(await guard(env)("embedded (PGlite)", name, () => embeddedRows(env, guard(env)))))
    return rows
  },
}
