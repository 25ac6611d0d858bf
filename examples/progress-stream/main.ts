/**
 * `pnpm example:progress-stream`: a workflow indexes six documents and streams its progress (workflow.ts);
 * a reader prints the progress as it arrives, and its loop ends when the workflow closes the stream. The
 * embedding service fails once, for "pricing.md", after the step has written to the stream: the step is
 * retried, and the reader sees only what the successful attempt wrote.
 *
 * Runs on the embedded store (PGlite in .durably/progress-stream, wiped first), or on Postgres when
 * DATABASE_URL is set (with a workflow id of this run's own, as that database is not wiped).
 */
import { setUpExample } from "../shared/setup.ts"
import type { LogSink } from "@durably/core"
import { makeEmbedder, makeIndexer, type Progress } from "./workflow.ts"

const {
  run,
  launch,
  say,
  logger: narrate,
} = setUpExample("progress-stream", "progress on a stream, with a step that fails once and is retried")
const id = `index-job${run}`
// The only workflow here narrates as "workflow [step]".
const logger: LogSink = (e) =>
  e.level === "info" && e.workflowId ? say(`workflow [${e.step ?? "-"}]: ${e.message}`) : narrate(e)

const flaky = "pricing.md"
const embedder = makeEmbedder(flaky)
const indexer = makeIndexer(embedder)
const durably = await launch({ workflows: [indexer], logger })
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
