/**
 * `pnpm example:dashboard`: an app that serves Durably's dashboard inside its own HTTP server, under
 * /ops/durably/, behind its own auth (here a made-up session header check), on the engine it runs.
 *
 * It runs a few checkouts first: two fail while the "payment provider" is down, one sleeps, a queue holds
 * work. Open the printed URL, filter to the failed runs, open one, press "Fork" from the charge step: the
 * provider is back by then, and the fork succeeds beside its origin. Ctrl-C stops it.
 * `--check` fetches the dashboard's API once, prints what it saw, and exits (for a quick non-interactive run).
 *
 * Runs on the embedded store (PGlite in .durably/dashboard, wiped first), or on Postgres when DATABASE_URL is set.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { defineWorkflow } from "@durably/core"
import { dashboardHandler } from "@durably/dashboard"
import { defineQueue } from "@durably/scheduler"
import { setUpExample } from "../shared/setup.ts"

const { run, say, launch } = setUpExample("dashboard", "the dashboard mounted in an app's own server")

const provider = { up: false }
const checkout = defineWorkflow("checkout", async (ctx, order: { id: string; cents: bigint }) => {
  const hold = await ctx.step("reserve", () => `hold-${order.id}`)
  const receipt = await ctx.step("charge", () => {
    if (!provider.up) throw new Error(`payment provider unavailable (order ${order.id})`)
    return { receipt: `r-${order.id}`, cents: order.cents }
  })
  await ctx.sleep(order.id.startsWith("slow") ? "1 hour" : 0)
  return { hold, receipt }
})
const exports = defineQueue("exports", { concurrency: 1 })
const exportJob = defineWorkflow("export", async (ctx, n: number) => {
  await ctx.sleep("10 minutes")
  return n
})

const durably = await launch({ workflows: [checkout, exportJob], queues: [exports] })
for (const id of ["a1", "a2"])
  await durably.start(checkout, { id, cents: 1999n }, { id: `checkout-${id}${run}` }).then((h) => h.outcome())
say("two checkouts failed while the payment provider was down")
provider.up = true
await durably.start(checkout, { id: "slow-1", cents: 500n }, { id: `checkout-slow-1${run}` })
for (const n of [1, 2, 3]) await durably.enqueue(exports, exportJob, n)
say("the provider is back; one checkout sleeps for an hour, three exports are queued (one at a time)")

// The app's own routes and auth; the dashboard is one more handler under a prefix.
const dashboard = dashboardHandler({ client: durably, title: "example app" })
const server = createServer((req, res) => {
  if (req.url?.startsWith("/ops/durably/")) {
    // Your auth here: a session, SSO, a reverse proxy. The example trusts loopback only.
    if (req.socket.remoteAddress !== "127.0.0.1" && req.socket.remoteAddress !== "::ffff:127.0.0.1") {
      res.statusCode = 403
      return res.end("forbidden")
    }
    return dashboard(req, res)
  }
  res.setHeader("content-type", "text/plain")
  res.end("the app itself; the dashboard is at /ops/durably/\n")
})
await new Promise<void>((resolve) => server.listen(Number(process.env["PORT"] ?? 4000), "127.0.0.1", resolve))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ops/durably/`
say(`dashboard: ${url}`)

const stop = async () => {
  server.close()
  await durably.shutdown()
}

if (process.argv.includes("--check")) {
  const page = (await (await fetch(`${url}api/workflows?status=ERROR`)).json()) as { workflows: Array<{ id: string }> }
  say(`GET ${url}api/workflows?status=ERROR → ${page.workflows.map((w) => w.id).join(", ")}`)
  await stop()
} else {
  say("Ctrl-C to stop")
  process.once("SIGINT", () => void stop())
}
