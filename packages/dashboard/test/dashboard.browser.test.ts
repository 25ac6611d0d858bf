// The dashboard in headless Chromium against a real Postgres, with a worker engine in this process: the
// list and its filters, a failed run's steps and error, fork from a chosen step, the timeline of every kind of
// operation, cancel a sleeping run, bulk cancel and resume, a queue draining and a partitioned one, live
// updates without reloading, executors and a stranded version. Screenshots of each view are saved as test
// artefacts (and into docs/dashboard/ with UPDATE_SCREENSHOTS=1).
import { copyFileSync, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Browser, Page } from "playwright-core"
import { defineWorkflow, Durably, type DurablyClient, type ScheduledRun } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { defineQueue, defineSchedule } from "@durably/scheduler"
import { databaseUrl, dropSchema, freshSchema } from "../../postgres/test/pg.ts"
import { serveDashboard, type ServedDashboard } from "../src/index.ts"
import { until } from "../../core/src/testing/until.ts"
import { artefactsDir, launchBrowser } from "./browser.ts"

const url = await databaseUrl()
const schema = freshSchema("dash")
const provider = { fixed: false }

const checkout = defineWorkflow("checkout", async (ctx, order: { id: string; total: bigint }) => {
  const hold = await ctx.step("reserve", () => `hold-${order.id}`)
  await ctx.setEvent("stage", "reserved")
  const receipt = await ctx.step("charge", () => {
    if (!provider.fixed) throw new Error(`card declined for ${order.id}: payment provider unavailable`)
    return { receipt: `r-${order.id}`, charged: order.total }
  })
  return { hold, receipt }
})
const sleeper = defineWorkflow("sleeper", async (ctx, _: null) => {
  await ctx.step("prepare", () => "ready")
  await ctx.sleep("1 hour")
})
// Each job waits for the test to let it finish, so the queue's depth falls when the test says.
const gate = { open: false, waiters: [] as Array<() => void> }
const job = defineWorkflow("job", async (ctx, n: number) =>
  ctx.step("work", async () => {
    if (!gate.open) await new Promise<void>((resolve) => gate.waiters.push(resolve))
    return n * 2
  }),
)
const drain = defineQueue("drain", { concurrency: 1 })
// Every kind of row the timeline draws: a stream value, a child workflow, a message waited for (with a timeout,
// so the wait is recorded) and received, and a step whose first two attempts failed, the second retry an hour
// away (10 ms, then 10 ms × 360 000).
const double = defineWorkflow("double", async (ctx, n: number) => ctx.step("double", () => n * 2))
const timeline = defineWorkflow("timeline", async (ctx, _: null) => {
  await ctx.writeStream("progress", { percent: 50 })
  const doubled = await ctx.run(double, 21)
  const approval = await ctx.recv<string>("approval", { timeout: "1 day" })
  return ctx.step(
    "notify",
    ({ attempt }) => {
      throw new Error(`mail server down (attempt ${attempt}): ${approval} ${doubled}`)
    },
    { retry: { maxAttempts: 5, initialDelay: 10, backoff: 360_000 } },
  )
})
// Partitions (one at a time per tenant) on a queue no worker here serves, so what is enqueued stays put.
const tenants = defineQueue("tenants", { concurrency: 4, partition: { concurrency: 1 } })
const report = defineWorkflow("nightly-report", async (_ctx, r: ScheduledRun) => r.scheduledAt)
const reports = defineQueue("reports")
const nightly = defineSchedule("nightly", {
  cron: "0 2 * * *",
  timezone: "Europe/Paris",
  workflow: report,
  queue: reports,
})

let engine: Durably
let client: DurablyClient
let served: ServedDashboard
let browser: Browser
let page: Page

const shot = async (name: string) => {
  const file = `${artefactsDir()}${name}.png`
  await page.screenshot({ path: file, fullPage: true })
  if (process.env["UPDATE_SCREENSHOTS"]) {
    const docs = fileURLToPath(new URL("../../../docs/dashboard/", import.meta.url))
    mkdirSync(docs, { recursive: true })
    copyFileSync(file, `${docs}${name}.png`)
  }
}

beforeAll(async () => {
  engine = await Durably.launch({
    store: postgresStore({ url, schema, max: 4 }),
    workflows: [checkout, sleeper, job, report, double, timeline],
    queues: [drain, reports],
    schedules: [nightly],
    executorId: "dashboard-test-worker",
    logger: false,
  })
  for (const n of [1, 2, 3])
    await engine
      .start(checkout, { id: `o${n}`, total: 10n ** 18n * BigInt(n) }, { id: `checkout-o${n}` })
      .then((h) => h.outcome())
  client = await Durably.client({ store: postgresStore({ url, schema, max: 4 }), logger: false })
  served = await serveDashboard({ client, port: 0, title: "test database" })
  browser = await launchBrowser()
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  page.on("dialog", (d) => void d.accept())
  await page.goto(served.url)
})

afterAll(async () => {
  gate.open = true
  for (const w of gate.waiters.splice(0)) w()
  await browser?.close()
  await served?.close()
  await client?.close()
  await engine?.shutdown()
  await dropSchema(url, schema)
})

const rowIds = () =>
  page.locator("#workflows tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id")))

describe("dashboard in Chromium", () => {
  it("lists runs with live counts, filters to the failed ones, and shows one's steps and error", async () => {
    await page.locator('#workflows tr[data-id="checkout-o3"]').waitFor()
    expect(await page.locator('#counts a[data-status="ERROR"] .count').textContent()).toBe("3")
    await shot("workflows")

    await page.selectOption("#f-status", "ERROR")
    await page.fill("#f-name", "checkout")
    await page.click("#apply")
    await page.waitForURL(/status=ERROR/)
    await expect.poll(rowIds).toEqual(["checkout-o3", "checkout-o2", "checkout-o1"])

    await page.click('#workflows tr[data-id="checkout-o2"] a')
    await page.locator("#error").waitFor()
    expect(await page.locator("#error").textContent()).toContain("card declined for o2: payment provider unavailable")
    expect(await page.locator("#input").textContent()).toContain("total: 2000000000000000000n")
    expect(await page.locator('tr[data-step="0"]').textContent()).toContain("reserve")
    expect(await page.locator('tr[data-step="1"]').textContent()).toContain("event stage")
    expect(await page.locator('tr[data-step="2"]').getAttribute("data-state")).toBe("failed")
    await shot("workflow-failed")
  })

  it("forks the failed run from its charge step once the provider is fixed, and shows the fork beside its origin", async () => {
    provider.fixed = true
    await page.selectOption("#fork-step", "2")
    await page.click("#fork")
    await page.waitForURL((u) => u.hash.startsWith("#/workflow/") && !u.hash.includes("checkout-o2"))
    await page.locator("#forked-from", { hasText: "checkout-o2" }).waitFor()
    // The fork runs on the worker; the page follows it live to SUCCESS.
    await page.locator("#head .status.SUCCESS").waitFor({ timeout: 20_000 })
    expect(await page.locator("#output").textContent()).toContain("charged: 2000000000000000000n")
    await page.locator("#compare").waitFor()
    const compare = await page.locator("#compare tbody").textContent()
    expect(compare).toContain("charge: failed")
    expect(compare).toContain("charge: done")
    await shot("workflow-fork")
  })

  it("cancels a sleeping workflow", async () => {
    const sleeping = await engine.start(sleeper, null, { id: "sleeper-1" })
    await page.goto(`${served.url}#/workflow/sleeper-1`)
    await page.locator('tr[data-step="1"][data-state="pending"]').waitFor()
    await page.click("#cancel")
    await page.locator("#head .status.CANCELLED").waitFor()
    expect((await sleeping.status()).status).toBe("CANCELLED")
  })

  it("draws the timeline: a stream value, a nested child, a message received, failed attempts and the next one", async () => {
    await engine.start(timeline, null, { id: "timeline-1" })
    await page.goto(`${served.url}#/workflow/timeline-1`)
    // 0 writeStream, 1 start (the child), 2 its result, 3 recv: waiting for the message until it times out.
    const waiting = page.locator('tr[data-step="3"][data-state="pending"]')
    await waiting.waitFor({ timeout: 20_000 })
    const deadline = waiting.locator("div.muted")
    expect(await deadline.textContent()).toMatch(/^times out /)
    const day = new Date((await deadline.locator("time").getAttribute("datetime"))!).getTime() - Date.now()
    expect(day).toBeGreaterThan(23 * 3_600_000)
    expect(day).toBeLessThanOrEqual(24 * 3_600_000)
    // The value line as the page renders it (innerText: whitespace as shown).
    expect(await page.locator('tr[data-step="0"] div.mono').innerText()).toBe("stream progress[0] = { percent: 50 }")
    const nested = page.locator("tr.nested[data-child]")
    await nested.locator(".status.SUCCESS").waitFor()
    const childId = await nested.getAttribute("data-child")
    expect(await nested.textContent()).toBe(`↳ child ${childId} SUCCESS`)
    expect(await page.locator('tr[data-step="2"]').textContent()).toContain("42")

    await client.send("timeline-1", "approval", "approved by ops")
    const recv = page.locator('tr[data-step="3"][data-state="done"]')
    await recv.waitFor({ timeout: 20_000 })
    expect(await recv.locator("td").nth(2).textContent()).toBe("recv")
    expect(await recv.locator("td").nth(1).textContent()).toBe("approval")
    expect(await recv.locator("pre").textContent()).toBe("approved by ops")

    // The notify step failed twice and waits an hour for its third attempt; the page follows it live.
    const notify = page.locator('tr[data-step="4"][data-state="pending"]')
    await notify.locator("td", { hasText: "failed attempts (2):" }).waitFor({ timeout: 20_000 })
    expect(await notify.locator("td").nth(4).textContent()).toBe("2")
    const errors = await notify.locator("pre.error").allTextContents()
    expect(errors).toEqual([
      expect.stringContaining("#1 Error: mail server down (attempt 1): approved by ops 42"),
      expect.stringContaining("#2 Error: mail server down (attempt 2): approved by ops 42"),
    ])
    const next = notify.locator("div.muted")
    expect(await next.textContent()).toMatch(/^next attempt /)
    const at = new Date((await next.locator("time").getAttribute("datetime"))!).getTime()
    expect(at).toBeGreaterThan(Date.now() + 50 * 60_000)
    expect(at).toBeLessThan(Date.now() + 61 * 60_000)
    await shot("workflow-timeline")
  })

  it("cancels every run the filter matches at once, after a confirmation", async () => {
    for (const n of [1, 2]) await engine.start(sleeper, null, { id: `sleeper-bulk-${n}` })
    await page.goto(`${served.url}#/?status=PENDING&name=sleeper`)
    await expect.poll(rowIds).toEqual(["sleeper-bulk-2", "sleeper-bulk-1"])
    const asked: string[] = []
    page.once("dialog", (d) => asked.push(d.message()))
    await page.click("#bulk-cancel")
    await page.locator("#outcome", { hasText: "Cancelled 2 workflows." }).waitFor()
    expect(asked).toEqual(["Cancel every workflow that matches this filter?"])
    await page.locator("#empty").waitFor()
    for (const n of [1, 2]) expect((await engine.handle(`sleeper-bulk-${n}`).status()).status).toBe("CANCELLED")
  })

  it("resumes every run the filter matches at once, after a confirmation", async () => {
    await page.goto(`${served.url}#/?status=CANCELLED&idPrefix=sleeper-bulk`)
    await expect.poll(rowIds).toEqual(["sleeper-bulk-2", "sleeper-bulk-1"])
    const asked: string[] = []
    page.once("dialog", (d) => asked.push(d.message()))
    await page.click("#bulk-resume")
    await page.locator("#outcome", { hasText: "Resumed 2 workflows." }).waitFor()
    expect(asked).toEqual(["Resume every workflow that matches this filter?"])
    await page.locator("#empty").waitFor()
    // Resumed, they sleep again from their checkpoint (the worker here takes them).
    for (const n of [1, 2]) expect((await engine.handle(`sleeper-bulk-${n}`).status()).status).toBe("PENDING")
  })

  it("shows a queue's depth falling while it drains, and new runs appear without reloading", async () => {
    for (const n of [1, 2, 3, 4]) await engine.enqueue(drain, job, n, { id: `job-${n}` })
    await page.goto(`${served.url}#/queues`)
    const waiting = page.locator('#queues tr[data-queue="drain"] td.waiting')
    await expect.poll(() => waiting.textContent(), { timeout: 20_000 }).toBe("3")
    expect(await page.locator('#queues tr[data-queue="drain"] td.running').textContent()).toBe("1")
    await shot("queues")
    gate.open = true
    for (const w of gate.waiters.splice(0)) w()
    await expect.poll(() => waiting.textContent(), { timeout: 20_000 }).toBe("0")

    await page.goto(`${served.url}#/`)
    await page.locator("#workflows").waitFor()
    await engine.start(checkout, { id: "live", total: 1n }, { id: "checkout-live" })
    await page.locator('#workflows tr[data-id="checkout-live"]').waitFor({ timeout: 10_000 })
  })

  it("shows a partitioned queue per partition, its delayed work, and its limits", async () => {
    await client.enqueue(tenants, "job", 10, { id: "tenant-acme-later", partitionKey: "acme", delay: "1 hour" })
    await client.enqueue(tenants, "job", 11, { id: "tenant-globex-now", partitionKey: "globex" })
    await page.goto(`${served.url}#/queues`)
    const acme = page.locator('#queues tr[data-queue="tenants"][data-partition="acme"]')
    const globex = page.locator('#queues tr[data-queue="tenants"][data-partition="globex"]')
    await acme.waitFor()
    expect(await acme.locator("td").allTextContents()).toEqual([
      "tenants",
      "acme",
      "0",
      "1",
      "0",
      "concurrency 4, per partition 1",
    ])
    expect(await globex.locator("td").allTextContents()).toEqual([
      "tenants",
      "globex",
      "1",
      "0",
      "0",
      "concurrency 4, per partition 1",
    ])
  })

  it("pauses, resumes and triggers a schedule", async () => {
    await page.goto(`${served.url}#/schedules`)
    const row = page.locator('#schedules tr[data-schedule="nightly"]')
    await row.waitFor()
    expect(await row.textContent()).toContain("0 2 * * * (Europe/Paris)")
    await shot("schedules")
    await row.locator("button.toggle", { hasText: "Pause" }).click()
    await row.locator(".next", { hasText: "paused" }).waitFor()
    expect((await engine.schedules.get("nightly"))?.paused).toBe(true)
    await row.locator("button.toggle", { hasText: "Resume" }).click()
    await row.locator("button.toggle", { hasText: "Pause" }).waitFor()
    await row.locator("button.trigger").click()
    await page.locator("#outcome a").click()
    await page.locator("#head .status.SUCCESS").waitFor({ timeout: 20_000 })
  })

  it("shows executors, and refuses unknown ids and malformed filters with clear messages", async () => {
    await page.goto(`${served.url}#/executors`)
    await page.locator("#executors", { hasText: "dashboard-test-worker" }).waitFor()
    await shot("executors")

    // A worker of an older version leaves a sleeping workflow behind and stops: no live executor serves it.
    const old = await Durably.launch({
      store: postgresStore({ url, schema, max: 2 }),
      workflows: [sleeper],
      appVersion: "v-old",
      executorId: "old-worker",
      logger: false,
    })
    await old.start(sleeper, null, { id: "stranded-1" })
    await until(async () => (await old.workflows.steps("stranded-1")).length === 2, "stranded-1 asleep")
    await old.shutdown()
    const stranded = page.locator(".notice.error", { hasText: "app version v-old" })
    await stranded.waitFor()
    expect(await stranded.textContent()).toBe(
      "1 PENDING workflows of app version v-old have no live executor: list them",
    )
    await stranded.locator("a").click()
    await page.waitForURL(/appVersion=v-old/)
    await expect.poll(rowIds).toEqual(["stranded-1"])

    await page.goto(`${served.url}#/workflow/no-such-workflow`)
    expect(await page.locator("#failure").textContent()).toContain("no-such-workflow")
    const missing = await fetch(new URL("api/workflows/no-such-workflow", served.url))
    expect(missing.status).toBe(404)
    const badFilter = await fetch(new URL("api/workflows?createdAfter=someday", served.url))
    expect(badFilter.status).toBe(400)
    expect(((await badFilter.json()) as { error: string }).error).toContain("createdAfter")
    const badCursor = await fetch(new URL("api/workflows?cursor=garbage", served.url))
    expect(badCursor.status).toBe(400)
    const badStatus = await fetch(new URL("api/workflows?status=NOPE", served.url))
    expect(badStatus.status).toBe(400)
  })
})
