/**
 * What a user can run after the README's first Install line alone (`npm i @durably/core @durably/postgres
 * effect`): a workflow on Postgres, whose driver npm installed as a peer; and the embedded store, whose
 * optional PGlite is not installed yet, refusing with a message that says what to install. One line per check.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Durably, defineWorkflow } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { embeddedStore } from "@durably/postgres/embedded"

const greet = defineWorkflow("greet", async (ctx, name: string) => ctx.step("greet", () => `hello ${name}`))

// The server named by DATABASE_URL or the PG* variables, in the schema the consumer test names (it drops it).
const durably = await Durably.launch({
  store: postgresStore({ schema: process.env["DURABLY_SCHEMA"] ?? "durably" }),
  workflows: [greet],
})
try {
  const said = await durably.run(greet, "world")
  if (said !== "hello world") throw new Error(`postgres: wrong result ${said}`)
  console.log(`postgres: ok ${said}`)
} finally {
  await durably.shutdown()
}

const dir = mkdtempSync(join(tmpdir(), "durably-first-"))
try {
  const refused = await Durably.launch({ store: embeddedStore({ dir }), workflows: [greet] }).then(
    async (engine) => {
      await engine.shutdown()
      return undefined
    },
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  )
  if (!refused?.includes("npm i @electric-sql/pglite"))
    throw new Error(`embedded without PGlite: expected a refusal naming the package, got ${String(refused)}`)
  console.log(`embedded without PGlite: refused (${refused})`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
