/**
 * `pnpm example:indexing`: an indexing pipeline on a queue with flow control. One workflow, "index-site",
 * puts one child workflow per page on the "indexing" queue (`ctx.enqueue`), then gathers each child's result
 * (`handle.result()`) and adds up the totals. Each child fetches and indexes its page in one step. The queue
 * lets at most 4 pages run at once across every worker, and at most 10 start in any 1-second window: the
 * crawler stays polite to the site however many pages are waiting.
 *
 * Fetching is simulated (no network): each page answers after 120–320 ms with content derived from its URL,
 * so every run indexes the same words. The script measures the flow control itself, from inside the step
 * bodies, and exits non-zero when a result is missing or wrong or a limit did not hold.
 *
 * Runs on the embedded store (PGlite in .durably/indexing-pipeline, wiped first), or on Postgres when
 * DATABASE_URL is set (with a workflow id of this run's own, as that database is not wiped).
 */
import { setTimeout as sleep } from "node:timers/promises"
import { defineWorkflow } from "@durably/core"
import { defineQueue } from "@durably/scheduler"
import { setUpExample } from "../shared/setup.ts"

const { run, say, launch } = setUpExample(
  "indexing-pipeline",
  "an indexing pipeline: one queued child workflow per page, under a concurrency and a rate limit",
)

const concurrency = 4
const rateLimit = { limit: 10, periodMs: 1000 }
const indexing = defineQueue("indexing", {
  concurrency, // across every worker that serves the queue
  rateLimit: { limit: rateLimit.limit, period: "1 second" }, // starts in any sliding 1-second window
})

const site = "https://docs.example.com"
const paths = [
  "/",
  "/quickstart",
  "/install",
  "/concepts/workflows",
  "/concepts/steps",
  "/concepts/replay",
  "/concepts/queues",
  "/guides/retries",
  "/guides/timeouts",
  "/guides/cancellation",
  "/guides/child-workflows",
  "/guides/rate-limits",
  "/guides/testing",
  "/reference/ctx",
  "/reference/launch",
  "/reference/errors",
  "/reference/stores",
  "/faq",
  "/changelog",
  "/blog/hello-durably",
]
const urls = paths.map((p) => site + p)

// ---- The simulated web: deterministic pages, a short latency each --------------------------------------

const vocabulary = (
  "workflow step queue replay durable checkpoint postgres retry timeout cancel child parent worker " +
  "executor lease heartbeat enqueue claim limit rate window partition priority delay result handle store"
).split(" ")

/** FNV-1a: a stable number per string, so every run fetches the same pages. */
const hash = (s: string): number => {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

interface Page {
  readonly title: string
  readonly body: string
}

/** What the fake site serves at `url`: a title and 200–999 words. */
const pageAt = (url: string): Page => {
  let h = hash(url)
  const words: string[] = []
  for (let n = 200 + (h % 800); n > 0; n--) {
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0
    words.push(vocabulary[h % vocabulary.length]!)
  }
  return { title: `Durably docs: ${new URL(url).pathname}`, body: words.join(" ") }
}

const fetchPage = async (url: string, signal: AbortSignal): Promise<Page> => {
  await sleep(120 + (hash(url) % 200), undefined, { signal })
  return pageAt(url)
}

interface PageIndex {
  readonly url: string
  readonly title: string
  readonly words: number
  readonly terms: Record<string, number>
}

const indexOf = (url: string, page: Page): PageIndex => {
  const terms: Record<string, number> = {}
  const words = page.body.split(" ")
  for (const w of words) terms[w] = (terms[w] ?? 0) + 1
  return { url, title: page.title, words: words.length, terms }
}

// ---- Flow-control instruments: what the step bodies see, in this process ----------------------------------

const meter = { running: 0, peak: 0, starts: [] as number[], roomSince: undefined as number | undefined }

const started = (url: string) => {
  const at = performance.now()
  // How long this page could have started already: there was room below the concurrency limit (and it was
  // waiting) since the previous start or since a page finished, whichever came later.
  const roomFor = meter.roomSince === undefined ? 0 : at - Math.max(meter.roomSince, meter.starts.at(-1) ?? 0)
  meter.starts.push(at)
  meter.running++
  meter.peak = Math.max(meter.peak, meter.running)
  if (meter.running >= concurrency) meter.roomSince = undefined
  else meter.roomSince ??= at
  const note =
    roomFor > 150 ? `  ← room was free for ${(roomFor / 1000).toFixed(2)} s: held back by the rate limit` : ""
  say(
    `  start ${String(meter.starts.length).padStart(2)}/${urls.length}  ${new URL(url).pathname.padEnd(24)}` +
      `running ${meter.running}/${concurrency}${note}`,
  )
}

const finished = () => {
  meter.running--
  if (meter.running < concurrency) meter.roomSince ??= performance.now()
}

// ---- The workflows ------------------------------------------------------------------------------------------

/** One page: fetch it and index it, in one step (on replay the recorded index comes back, no refetch). */
const indexPage = defineWorkflow("index-page", async (ctx, url: string) =>
  ctx.step("fetch and index", async ({ signal }) => {
    started(url)
    try {
      return indexOf(url, await fetchPage(url, signal))
    } finally {
      finished()
    }
  }),
)

interface SiteIndex {
  readonly pages: number
  readonly words: number
  readonly terms: Record<string, number>
  readonly urls: ReadonlyArray<string>
}

/** The pipeline: one queued child per page, then every child's result, in order. */
const indexSite = defineWorkflow("index-site", async (ctx, pages: ReadonlyArray<string>) => {
  const handles = []
  // Each enqueue is recorded: after a crash the replay finds the same children (ids @child:<this id>:<step>).
  // A child's timeout counts from when a worker claims it, not from the enqueue: waiting in line is free.
  for (const url of pages) handles.push(await ctx.enqueue(indexing, indexPage, url, { timeout: "10 seconds" }))
  ctx.log.info(
    `enqueued ${handles.length} pages on "${indexing.name}"; children ${handles[0]?.id} … ${handles.at(-1)?.id}`,
  )
  const terms: Record<string, number> = {}
  let words = 0
  const indexed: string[] = []
  for (const handle of handles) {
    const page = await handle.result() // recorded too: a replay does not wait again
    words += page.words
    for (const [term, n] of Object.entries(page.terms)) terms[term] = (terms[term] ?? 0) + n
    indexed.push(page.url)
  }
  ctx.log.info(`gathered ${indexed.length} results`)
  return { pages: indexed.length, words, terms, urls: indexed } satisfies SiteIndex
})

// ---- Run it -------------------------------------------------------------------------------------------------

// A pipeline that hangs is a failure too.
const watchdog = setTimeout(() => {
  console.error("\nFAILED: the pipeline did not finish within 50 seconds")
  process.exit(1)
}, 50_000)
watchdog.unref()

const durably = await launch({ workflows: [indexSite, indexPage], queues: [indexing] })
say(
  `engine launched; it serves queue "${indexing.name}" (at most ${concurrency} at once, ${rateLimit.limit} starts/second)`,
)

const id = `index-site${run}`
const t0 = performance.now()
let result: SiteIndex
try {
  result = await durably.run(indexSite, urls, { id })
} finally {
  await durably.shutdown()
}
const elapsedMs = performance.now() - t0
say(`${id} finished: ${result.pages} pages, ${result.words} words`)

// ---- Check what happened --------------------------------------------------------------------------------------

const problems: string[] = []

const expected = urls.map((u) => indexOf(u, pageAt(u)))
const expectedWords = expected.reduce((n, p) => n + p.words, 0)
if (result.pages !== urls.length) problems.push(`${result.pages} results arrived, ${urls.length} expected`)
if (JSON.stringify(result.urls) !== JSON.stringify(urls)) problems.push("the results are not one per URL, in order")
if (result.words !== expectedWords) problems.push(`${result.words} words indexed, ${expectedWords} expected`)
if (meter.starts.length !== urls.length)
  problems.push(`${meter.starts.length} fetches ran for ${urls.length} pages (each page must be fetched once)`)
if (meter.peak > concurrency) problems.push(`${meter.peak} pages ran at once; the limit is ${concurrency}`)

// The rate limit counts a start when a worker claims the page; its step begins a little later (a few ms, more
// on a busy machine), so the starts seen here may bunch by that much. Allow 250 ms: start 11 must come at
// least 750 ms after start 1, and so on. Without the limit, 11 pages start here within about half a second.
const slackMs = 250
const starts = [...meter.starts].sort((a, b) => a - b)
let tightest = Infinity
for (let i = 0; i + rateLimit.limit < starts.length; i++)
  tightest = Math.min(tightest, starts[i + rateLimit.limit]! - starts[i]!)
if (tightest < rateLimit.periodMs - slackMs)
  problems.push(
    `${rateLimit.limit + 1} pages started within ${tightest.toFixed(0)} ms; the limit is ${rateLimit.limit} per ${rateLimit.periodMs} ms`,
  )

const top = Object.entries(result.terms)
  .sort(([, a], [, b]) => b - a)
  .slice(0, 5)
  .map(([term, n]) => `${term} (${n})`)
console.log(
  `\nIndexed ${result.pages} pages, ${result.words} words, ${Object.keys(result.terms).length} distinct terms in ` +
    `${(elapsedMs / 1000).toFixed(1)} s. Top terms: ${top.join(", ")}.` +
    `\nFlow control: at most ${meter.peak} pages ran at once (limit ${concurrency}); any ${rateLimit.limit + 1} ` +
    `consecutive starts spanned at least ${tightest.toFixed(0)} ms (limit: ${rateLimit.limit} per second, counted ` +
    `at the claim, a few ms before the step starts).`,
)
clearTimeout(watchdog)
if (problems.length > 0) {
  console.error(`\nFAILED:\n${problems.map((p) => `  - ${p}`).join("\n")}`)
  process.exitCode = 1
} else console.log("All results arrived and both limits held.")
