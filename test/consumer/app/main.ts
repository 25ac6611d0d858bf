/**
 * The program a new user would write first, run by the consumer test inside a fresh app that installed the
 * packed tarballs: a workflow with a step and a durable sleep, and a queued child workflow, on the embedded
 * store and on Postgres (through the app's own postgres.js instance, so its types must match ours), each seen
 * through the dashboard's handler. It prints one line per store and exits non-zero when a result is wrong.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Durably, defineWorkflow, type Store } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { embeddedStore } from "@durably/postgres/embedded"
import { dashboardFetchHandler } from "@durably/dashboard"
import { openTelemetry } from "@durably/otel"
import { defineQueue } from "@durably/scheduler"
import postgres from "postgres"

const words = defineQueue("words", { concurrency: 2 })

const countWords = defineWorkflow("count-words", async (ctx, text: string) =>
  ctx.step("count", () => text.split(/\s+/).filter(Boolean).length),
)

const summarise = defineWorkflow("summarise", async (ctx, texts: string[]) => {
  await ctx.sleep("10 millis")
  const children = []
  for (const text of texts) children.push(await ctx.enqueue(words, countWords, text))
  let total = 0
  for (const child of children) total += await child.result()
  return { texts: texts.length, words: total }
})

const runOn = async (label: string, store: Store): Promise<void> => {
  // Traces and metrics go nowhere until the app registers an OpenTelemetry SDK; the observer works without.
  const durably = await Durably.launch({
    store,
    workflows: [summarise, countWords],
    queues: [words],
    observers: [openTelemetry()],
  })
  try {
    const handle = await durably.start(summarise, ["durable workflows", "for TypeScript on Postgres"])
    const result = await handle.result()
    if (result.texts !== 2 || result.words !== 6) throw new Error(`${label}: wrong result ${JSON.stringify(result)}`)
    // The dashboard, mounted on this engine: its UI comes from the package's assets, its API reads the store.
    const dashboard = dashboardFetchHandler({ client: durably, readOnly: true })
    const page = await (await dashboard(new Request("http://127.0.0.1/"))).text()
    const seen = (await (await dashboard(new Request(`http://127.0.0.1/api/workflows/${handle.id}`))).json()) as {
      status?: string
    }
    if (!page.includes("<html") || seen.status !== "SUCCESS")
      throw new Error(`${label}: the dashboard shows ${JSON.stringify(seen)}, and a page of ${page.length} characters`)
    console.log(`${label}: ok ${JSON.stringify(result)}, SUCCESS in the dashboard`)
  } finally {
    await durably.shutdown()
  }
}

const dir = mkdtempSync(join(tmpdir(), "durably-consumer-"))
try {
  await runOn("embedded", embeddedStore({ dir }))
} finally {
  rmSync(dir, { recursive: true, force: true })
}

// On the server named by DATABASE_URL or the PG* variables, in the schema the consumer test names (it drops it).
const quiet = { onnotice: () => {} }
const sql = process.env["DATABASE_URL"] ? postgres(process.env["DATABASE_URL"], quiet) : postgres(quiet)
try {
  await runOn("postgres", postgresStore({ sql, schema: process.env["DURABLY_SCHEMA"] ?? "durably" }))
} finally {
  await sql.end()
}
