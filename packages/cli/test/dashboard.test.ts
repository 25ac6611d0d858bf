// `durably dashboard` as a real process: it prints where it listens (never a password), serves the API on the
// database, asks for the token it was given (--token or DURABLY_DASHBOARD_TOKEN), refuses a non-loopback
// address without one (exit 2), and stops cleanly on SIGTERM (exit 0).
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { databaseUrl, dropSchema, freshSchema } from "../../postgres/test/pg.ts"
import { sleeper, valuesWorkflow } from "./fixtures.ts"
import { durably, durablyServing, ndjson } from "./run.ts"

const url = await databaseUrl()
const schema = freshSchema("clidash")

beforeAll(async () => {
  const engine = await Durably.launch({
    store: postgresStore({ url, schema }),
    workflows: [valuesWorkflow],
    logger: false,
  })
  await engine.run(valuesWorkflow, "served", { id: "values-served" })
  await engine.shutdown()
  // A worker of an old version leaves a sleeping workflow behind: no live executor runs that version.
  const old = await Durably.launch({
    store: postgresStore({ url, schema }),
    workflows: [sleeper],
    appVersion: "v-old",
    logger: false,
  })
  await old.start(sleeper, null, { id: "sleeper-old" })
  await old.shutdown()
})
afterAll(() => dropSchema(url, schema))

describe("durably dashboard", { timeout: 180_000 }, () => {
  it("serves the dashboard on the database until SIGTERM", async () => {
    const { child, match, exited } = await durablyServing(
      ["dashboard", "--port", "0", "--schema", schema, "--read-only"],
      { DATABASE_URL: url },
      /at (http:\/\/127\.0\.0\.1:\d+\/)/,
    )
    try {
      const base = match[1]!
      expect(await (await fetch(new URL("api/info", base))).json()).toMatchObject({ readOnly: true })
      const page = (await (await fetch(new URL("api/workflows", base))).json()) as {
        workflows: Array<{ id: string }>
        counts: Record<string, number>
      }
      expect(page.workflows.map((w) => w.id)).toEqual(["sleeper-old", "values-served"])
      expect(page.counts["SUCCESS"]).toBe(1)
      const detail = (await (await fetch(new URL("api/workflows/values-served", base))).json()) as {
        outputText: string
      }
      expect(detail.outputText).toContain("big: 1180591620717411303424n")
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited).toBe(0)
  })

  it("workflows stranded lists the version no live executor runs", async () => {
    const ran = await durably(["workflows", "stranded", "--schema", schema, "--json"], { DATABASE_URL: url })
    expect(ran.code).toBe(0)
    expect(ndjson(ran.stdout)).toEqual([{ appVersion: "v-old", count: 1 }])
  })

  it("asks for the token of --token or DURABLY_DASHBOARD_TOKEN, and lets a bearer request in", async () => {
    const token = "cli-t0ken-xyz"
    const given = [
      { args: ["--token", token], env: { DATABASE_URL: url } },
      // The variable's token also lets it listen beyond loopback.
      { args: ["--host", "0.0.0.0"], env: { DATABASE_URL: url, DURABLY_DASHBOARD_TOKEN: token } },
    ]
    for (const { args, env } of given) {
      const { child, match, exited, output } = await durablyServing(
        ["dashboard", "--port", "0", "--schema", schema, ...args],
        env,
        /at http:\/\/[\d.]+:(\d+)\/ \(open it with \?token=…\)/,
      )
      try {
        const api = `http://127.0.0.1:${match[1]}/api/workflows`
        const denied = await fetch(api)
        expect(denied.status).toBe(401)
        expect(((await denied.json()) as { error: string }).error).toContain("token")
        expect((await fetch(api, { headers: { authorization: "Bearer wrong-token" } })).status).toBe(401)
        const bearer = await fetch(api, { headers: { authorization: `Bearer ${token}` } })
        expect(bearer.status).toBe(200)
        expect(((await bearer.json()) as { workflows: unknown[] }).workflows).toHaveLength(2)
        const { stdout, stderr } = output()
        expect(stdout + stderr).not.toContain(token)
      } finally {
        child.kill("SIGTERM")
      }
      expect(await exited).toBe(0)
    }
  })

  it("never prints a password in its banner: not the URL's, not PGPASSWORD", async () => {
    // A trusting server accepts any password; one that checks gets its own.
    const withPassword = new URL(url)
    if (!withPassword.password) withPassword.password = "url-Sup3r-s3cret"
    const urlSecret = decodeURIComponent(withPassword.password)
    const envSecret = decodeURIComponent(new URL(url).password) || "env-Sup3r-s3cret"
    const pgEnv = {
      DATABASE_URL: undefined,
      PGHOST: withPassword.hostname,
      PGPORT: withPassword.port || "5432",
      PGUSER: decodeURIComponent(withPassword.username),
      PGDATABASE: decodeURIComponent(withPassword.pathname.slice(1)),
      PGPASSWORD: envSecret,
    }
    for (const [env, secret] of [
      [{ DATABASE_URL: withPassword.toString() }, urlSecret],
      [pgEnv, envSecret],
    ] as const) {
      const { child, exited, output } = await durablyServing(
        ["dashboard", "--port", "0", "--schema", schema, "--read-only"],
        env,
        /^Dashboard for postgres:\/\/.+ at http:\/\/127\.0\.0\.1:\d+\/\n/,
      )
      child.kill("SIGTERM")
      expect(await exited).toBe(0)
      const { stdout, stderr } = output()
      expect(stdout).toMatch(
        new RegExp(
          `^Dashboard for postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:\\d+/${pgEnv.PGDATABASE} \\(schema ${schema}\\)`,
        ),
      )
      expect(stdout + stderr).not.toContain(secret)
    }
  })

  it("refuses to listen beyond loopback without a token", async () => {
    const ran = await durably(["dashboard", "--host", "0.0.0.0", "--port", "0", "--schema", schema], {
      DATABASE_URL: url,
    })
    expect(ran.code).toBe(2)
    expect(ran.stderr).toMatch(/^durably: listening on 0\.0\.0\.0 \(not loopback\) needs a token/)
  })
})
