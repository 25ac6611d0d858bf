/**
 * `pnpm example:progress-stream`: a workflow indexes six documents and streams its progress (workflow.ts);
 * a reader prints the progress as it arrives, and its loop ends when the workflow closes the stream. The
 * embedding service fails once, for "pricing.md", after the step has written to the stream: the step is
 * retried, and the reader sees only what the successful attempt wrote.
 *
 * Runs on the embedded store (PGlite in .durably/progress-stream, wiped first), or on Postgres when
 * DATABASE_URL is set (with a workflow id of this run's own, as that database is not wiped).
 */
import { rmSync } from "node:fs"
import { relative } from "node:path"
import { fileURLToPath } from "node:url"
import { consoleLogger, Durably, type LogSink } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { embeddedStore } from "@durably/postgres/embedded"
import { makeEmbedder, makeIndexer, type Progress } from "./workflow.ts"

const t0 = Date.now()
const say = (line: string) => console.log(`${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s  ${line}`)

const url = process.env["DATABASE_URL"]
const dir = fileURLToPath(new URL("../../.durably/progress-stream", import.meta.url))
const id = url ? `index-job-${Date.now().toString(36)}` : "index-job"
if (!url) rmSync(dir, { recursive: true, force: true })
const store = url ? postgresStore({ url }) : embeddedStore({ dir })

// What the workflow says through ctx.log goes to the narrative; the engine's warnings and errors to stderr.
const warnings = consoleLogger("warn")
const logger: LogSink = (e) =>
  e.level === "info" && e.workflowId ? say(`workflow [${e.step ?? "-"}]: ${e.message}`) : warnings(e)

console.log("Durably example: progress on a stream, with a step that fails once and is retried")
console.log(
  url ? "Store: Postgres at DATABASE_URL\n" : `Store: embedded Postgres (PGlite) in ${relative(process.cwd(), dir)}\n`,
)

const flaky = "pricing.md"
const embedder = makeEmbedder(flaky)
const indexer = makeIndexer(embedder)
const durably = await Durably.launch({ store, workflows: [indexer], logger })
say("engine launched")

const docs = ["intro.md", "install.md", "pricing.md", "faq.md", "api.md", "changelog.md"]
const handle = await durably.start(indexer, docs, { id })
say(`started workflow ${id} on ${docs.length} documents; reading its "progress" stream`)

const seen: Progress[] = []
for await (const p of durably.readStream<Progress>(id, "progress")) {
  seen.push(p)
  if (p.kind === "started") say(`reader: job started, ${p.total} documents`)
  if (p.kind === "document") say(`reader:   ${p.doc}: ${p.note} (attempt ${p.attempt})`)
  if (p.kind === "count") say(`reader: ${p.done}/${p.total} done`)
}
say("reader: the stream is closed, the loop ended")
const result = await handle.result()
say(`workflow finished: ${JSON.stringify(result)}`)
await durably.shutdown()

const calls = embedder.calls.get(flaky) ?? 0
const fromFailed = seen.filter((p) => p.kind === "document" && p.doc === flaky && p.attempt < calls)
console.log(
  `\nThe embedding service was called ${calls} times for ${flaky}; the reader got ${seen.length} values, ` +
    `${fromFailed.length} of them from a failed attempt.`,
)
