/**
 * Wake-up latency, p50 and p99: how long from `durably.send` until a workflow waiting in `ctx.recv` has the
 * message in its code, and from `start` until `handle.result()` resolves for a one-step workflow awaited
 * from another engine; against one INSERT round trip sampled in the same rounds. The stores keep their
 * defaults (on Postgres: NOTIFY on, fallback poll 1 s), so the numbers say how fast notifications wake.
 * Details in ./latency/server.ts and ./latency/embedded.ts.
 */
import type { BenchEnv, Row, Scenario } from "../harness.ts"
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
    env.log(`${name}, embedded store:`)
    rows.push(...(await guard(env)("embedded (PGlite)", name, () => embeddedRows(env, guard(env)))))
    return rows
  },
}
