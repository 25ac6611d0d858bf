// The real binary on an embedded directory: workflows a worker left there are listed and shown, and a
// directory a live process holds is refused with exit code 5.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Durably } from "@durably/core"
import { embeddedStore } from "@durably/postgres/embedded"
import { valuesWorkflow } from "./fixtures.ts"
import { durably, ndjson } from "./run.ts"

const dir = mkdtempSync(join(tmpdir(), "durably-cli-embedded-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("durably --dir", { timeout: 180_000 }, () => {
  it("lists and shows what a worker stored in the directory, values whole in --json", async () => {
    const engine = await Durably.launch({ store: embeddedStore({ dir }), workflows: [valuesWorkflow], logger: false })
    await engine.run(valuesWorkflow, "embedded", { id: "values-embedded" })
    const busy = await durably(["workflows", "list", "--dir", dir])
    expect(busy.code).toBe(5)
    expect(busy.stderr).toMatch(/^durably: .*lock/i)
    await engine.shutdown()

    const list = await durably(["workflows", "list", "--dir", dir, "--json"])
    expect(list.stderr).toBe("")
    expect(list.code).toBe(0)
    expect(ndjson(list.stdout)).toMatchObject([{ id: "values-embedded", status: "SUCCESS" }])
    const get = await durably(["workflows", "get", "values-embedded", "--dir", dir, "--json"])
    const doc = JSON.parse(get.stdout) as { output: { big: string; blob: string } }
    expect(doc.output.big).toBe("1180591620717411303424")
    expect(doc.output.blob).toHaveLength(100_000)
  })
})
