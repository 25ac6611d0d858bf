// The dashboard's server: its guards (loopback only, token, the action header), read-only mode, JSON 404s for
// unknown ids, the Web and Node forms of the handler (each mounted under a prefix), and the page itself
// loading in a real headless Chromium.
import { createServer, request } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Browser } from "playwright-core"
import { Durably, memoryStore, type DurablyClient } from "@durably/core"
import { dashboardFetchHandler, dashboardHandler, serveDashboard, type ServedDashboard } from "../src/index.ts"
import { artefactsDir, launchBrowser } from "./browser.ts"

let browser: Browser
let client: DurablyClient
const servers: ServedDashboard[] = []

beforeAll(async () => {
  browser = await launchBrowser()
  client = await Durably.client({ store: memoryStore(), logger: false })
})
afterAll(async () => {
  await browser?.close()
  for (const s of servers) await s.close()
  await client?.close()
})

const serve = async (options: Omit<Parameters<typeof serveDashboard>[0], "client">) => {
  const s = await serveDashboard({ port: 0, client, ...options })
  servers.push(s)
  return s
}

describe("dashboard server", () => {
  it("refuses to listen beyond loopback without a token", async () => {
    await expect(serveDashboard({ client, host: "0.0.0.0", port: 0 })).rejects.toThrow(/needs a token/)
  })

  it("on loopback answers only requests addressed to a loopback name (no DNS rebinding)", async () => {
    const s = await serve({})
    expect((await fetch(new URL("api/info", s.url))).status).toBe(200)
    // fetch will not send another Host header, so ask with node:http as a rebinding page's request arrives.
    const rebound = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(new URL("api/info", s.url), { headers: { host: "evil.example" } }, (res) => {
        let body = ""
        res.setEncoding("utf8").on("data", (d: string) => (body += d))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on("error", reject)
      req.end()
    })
    expect(rebound.status).toBe(403)
    expect(rebound.body).toContain("only on loopback")
  })

  it("with a token: 401 without it, a bearer header or the cookie that ?token= sets lets in", async () => {
    const s = await serve({ token: "t0ken-abc" })
    const denied = await fetch(new URL("api/info", s.url))
    expect(denied.status).toBe(401)
    expect(await denied.json()).toMatchObject({ error: expect.stringContaining("token") })
    const bearer = await fetch(new URL("api/info", s.url), { headers: { authorization: "Bearer t0ken-abc" } })
    expect(bearer.status).toBe(200)
    const visit = await fetch(new URL("?token=t0ken-abc", s.url), { redirect: "manual" })
    expect(visit.status).toBe(303)
    const cookie = visit.headers.get("set-cookie")!
    expect(cookie).toContain("HttpOnly")
    const withCookie = await fetch(new URL("api/info", s.url), { headers: { cookie: cookie.split(";")[0]! } })
    expect(withCookie.status).toBe(200)
  })

  it("actions need the x-durably header; unknown routes are JSON 404s", async () => {
    const handle = dashboardFetchHandler({ client })
    const post = await handle(new Request("http://localhost/api/info", { method: "POST" }))
    expect(post.status).toBe(403)
    const missing = await handle(new Request("http://localhost/api/nope"))
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({ error: "no such API route: GET /api/nope" })
    const readOnly = dashboardFetchHandler({ client, readOnly: true })
    const refused = await readOnly(
      new Request("http://localhost/api/workflows/x/cancel", { method: "POST", headers: { "x-durably": "1" } }),
    )
    expect(refused.status).toBe(403)
    expect(await refused.json()).toEqual({ error: "the dashboard is read-only" })
    const unknown = await handle(
      new Request("http://localhost/api/workflows/no-such/cancel", { method: "POST", headers: { "x-durably": "1" } }),
    )
    expect(unknown.status).toBe(404)
    const badBody = await handle(
      new Request("http://localhost/api/workflows/no-such/fork", {
        method: "POST",
        headers: { "x-durably": "1" },
        body: "[1",
      }),
    )
    expect(badBody.status).toBe(400)
    const info = await handle(new Request("http://localhost/api/info"))
    expect(info.headers.get("content-security-policy")).toContain("default-src 'self'")
  })

  it("an unknown workflow id is a JSON 404 on every route that names one", async () => {
    const handle = dashboardFetchHandler({ client })
    for (const tail of ["", "/steps", "/children"]) {
      const missing = await handle(new Request(`http://localhost/api/workflows/no-such-workflow${tail}`))
      expect({ tail, status: missing.status }).toEqual({ tail, status: 404 })
      expect(((await missing.json()) as { error: string }).error).toContain("no-such-workflow")
    }
  })

  it("mounts its Web handler under a prefix", async () => {
    const handle = dashboardFetchHandler({ client, readOnly: true, title: "mounted" })
    // As an app's router passes it on: the full URL, prefix included.
    const mounted = (path: string, init?: RequestInit) =>
      handle(new Request(`http://127.0.0.1:8080/ops/durably/${path}`, init))
    expect(await (await mounted("api/info")).json()).toEqual({ readOnly: true, title: "mounted" })
    const page = await mounted("")
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toContain("text/html")
    // Its page loads everything by relative URLs, so they resolve under the prefix.
    const html = await page.text()
    expect(html).not.toMatch(/(src|href)="\//)
    const script = await mounted("app.js")
    expect(script.status).toBe(200)
    expect(script.headers.get("content-type")).toContain("javascript")
    const list = await mounted("api/workflows?status=ERROR")
    expect(list.status).toBe(200)
    expect(await list.json()).toMatchObject({ workflows: [], counts: { ERROR: 0 } })
    expect((await mounted("api/workflows/no-such-workflow/steps")).status).toBe(404)
    expect((await mounted("no-such-file.js")).status).toBe(404)
  })

  it("mounts in a user's own Node server under a prefix", async () => {
    const mounted = dashboardHandler({ client, readOnly: true })
    const server = createServer((req, res) => {
      if (req.url?.startsWith("/ops/durably/")) return mounted(req, res)
      res.statusCode = 418
      res.end()
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ops/durably/`
      expect(await (await fetch(new URL("api/info", base))).json()).toMatchObject({ readOnly: true })
      const page = await fetch(base)
      expect(page.headers.get("content-type")).toContain("text/html")
      expect((await fetch(new URL("app.js", base))).status).toBe(200)
      expect((await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/other`)).status).toBe(418)
    } finally {
      server.close()
    }
  })

  it("loads in Chromium: the shell, its navigation, and the read-only mode", async () => {
    const s = await serve({ readOnly: true, title: "test database" })
    const page = await browser.newPage()
    const errors: string[] = []
    page.on("pageerror", (e) => errors.push(e.message))
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text())
    })
    await page.goto(s.url)
    await page.locator("#mode", { hasText: "read-only" }).waitFor()
    await page.locator("#empty").waitFor()
    expect(await page.locator("#bulk-cancel").count()).toBe(0)
    expect(await page.locator("#title").textContent()).toBe("test database")
    expect(await page.locator("nav a").allTextContents()).toEqual(["Workflows", "Queues", "Schedules", "Executors"])
    await page.screenshot({ path: `${artefactsDir()}shell.png` })
    expect(errors).toEqual([])
    await page.close()
  })
})
