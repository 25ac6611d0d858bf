// Store options are checked when the store is made: a bad one fails there with InvalidArgument naming it,
// instead of hanging at launch, flooding the server or failing every completion later; a URL is never echoed.
import { existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { defineWorkflow, Durably } from "@durably/core"
import { postgresStore, migrate } from "@durably/postgres"
import { embeddedStore } from "@durably/postgres/embedded"
import { captureLogs, echoesSafely, logProblems, rejection, tagOf } from "./support.ts"

const secret = "hunter2-s3cret"

/** Every message and stack along the cause chain, and the error's JSON. */
const everything = (e: unknown): string => {
  const parts: string[] = []
  for (let c: unknown = e, i = 0; c && i < 10; i++, c = (c as { cause?: unknown }).cause) {
    if (c instanceof Error) parts.push(c.message, c.stack ?? "", String(c))
    try {
      parts.push(JSON.stringify(c))
    } catch {
      parts.push("")
    }
  }
  return parts.join("\n")
}

describe("store options", () => {
  it.each([
    ["schema of 56 characters (its NOTIFY channel would not fit)", { schema: "s".repeat(56) }, "schema"],
    ["schema with upper case", { schema: "Durably" }, "schema"],
    ["schema with a quote", { schema: 'x"; DROP SCHEMA public; --' }, "schema"],
    ["max 0 (would hang)", { max: 0 }, "max"],
    ["max -1", { max: -1 }, "max"],
    ["max 1.5", { max: 1.5 }, "max"],
    ["max NaN", { max: NaN }, "max"],
    ["pollInterval 0 (a busy loop)", { pollInterval: 0 }, "pollInterval"],
    ["pollInterval NaN", { pollInterval: NaN }, "pollInterval"],
    ["a url that is not a string", { url: 42 }, "url"],
  ] as const)("postgresStore refuses %s", async (_label, options, named) => {
    const e = await rejection(() => postgresStore(options as never), String(_label))
    expect(tagOf(e)).toBe("InvalidArgument")
    expect((e as Error).message).toContain(named)
  })

  it.each([
    ["a malformed URL", `postgres://user:${secret}@[::1/db`],
    ["a bad escape", `postgres://user:%E0%A4%A${secret}@localhost/db`],
    ["another scheme", `mysql://user:${secret}@localhost/db`],
  ])("postgresStore and migrate refuse %s without showing the password", async (label, url) => {
    for (const call of [() => postgresStore({ url }), () => migrate({ url })]) {
      const e = await rejection(call, label)
      expect(tagOf(e)).toBe("InvalidArgument")
      expect((e as Error).message).toContain("url")
      expect(everything(e)).not.toContain(secret)
    }
  })

  it("embeddedStore refuses a bad schema and a bad directory", async () => {
    for (const options of [{ schema: "s".repeat(56) }, { dir: "" }, { dir: "a\u0000b" }])
      expect(tagOf(await rejection(() => embeddedStore(options), JSON.stringify(options)))).toBe("InvalidArgument")
  })

  it.each([
    ["a path of 5,000 characters", join(tmpdir(), "d".repeat(5_000))],
    ["a name of 256 bytes", join(tmpdir(), "é".repeat(128))],
    [
      "a path past the bound, in names the file system takes",
      join(tmpdir(), ...Array<string>(20).fill("n".repeat(200))),
    ],
  ])("embeddedStore refuses %s with InvalidArgument naming dir (not a raw ENAMETOOLONG)", async (label, dir) => {
    const e = await rejection(() => embeddedStore({ dir }), label)
    expect(tagOf(e), String(e).slice(0, 300)).toBe("InvalidArgument")
    expect((e as Error).message).toContain("embeddedStore: dir")
    expect(echoesSafely((e as Error).message)).toBe(true)
    expect(existsSync(join(tmpdir(), "n".repeat(200)))).toBe(false)
  })
})

describe("secrets in logs", () => {
  it("an engine that cannot reach its database logs neither the password nor its URL's secret parts", async () => {
    const logs = captureLogs()
    const store = postgresStore({ url: `postgres://someone:${secret}@127.0.0.1:1/nowhere` })
    const e = await rejection(
      Durably.launch({ store, workflows: [defineWorkflow("adv-s-noop", async () => 1)], logger: logs.logger }),
      "launch on an unreachable server",
    ).finally(() => Effect.runPromise(store.close()))
    expect(everything(e)).not.toContain(secret)
    expect(logProblems(logs.entries, [secret])).toEqual([])
  })

  it("logProblems finds a secret or a hostile value deep in an entry (the check can fail)", () => {
    const leak = new Error("connect failed", { cause: { options: { password: secret } } })
    expect(logProblems([{ level: "error", message: "store error", fields: { error: leak } }], [secret])).toHaveLength(1)
    expect(logProblems([{ level: "warn", message: "x", workflowId: "y".repeat(1_000_000) }], [])).toHaveLength(1)
    expect(logProblems([{ level: "warn", message: "a\u0000b" }], [])).toHaveLength(2)
  })
})
