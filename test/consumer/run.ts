/**
 * `pnpm test:consumer`: proves the packages work for someone who installs them. Packs every package as
 * `pnpm publish` would, checks what each tarball holds, then installs them into fresh apps outside the
 * repository and runs a workflow there on the embedded store and on Postgres (the PG* variables or
 * DATABASE_URL name the server), once per scenario:
 *
 * - npm, the lowest version of every peer dependency our ranges allow, on Node 22.12 (the oldest we support);
 * - npm on Node 24, installing as the README's Install section says, line by line (the newest releases);
 * - pnpm, the newest versions, on the Node running this script.
 *
 * `--tarballs DIR` tests tarballs packed elsewhere instead (e.g. an older commit's); `--only N` runs one
 * scenario (1-based). Exits non-zero on the first failure, with what the failing command printed.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { runScenario, type Scenario } from "./apps.ts"
import { findTarballs, inspectTarball, packAll, packageNames } from "./tarballs.ts"

const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "npm, lowest supported versions, Node 22.12",
    packageManager: "npm",
    node: "22.12.0",
    peers: "lowest",
    typescript: "5.9.3",
    typesNode: "22",
    checkSources: true,
  },
  {
    name: "npm, the README's Install lines one by one (newest versions), Node 24",
    packageManager: "npm",
    readmeInstall: true,
    node: "24",
    peers: "newest",
    typescript: "latest",
    typesNode: "24",
  },
  { name: "pnpm, newest versions", packageManager: "pnpm", peers: "newest", typescript: "latest", typesNode: "24" },
]

const { values } = parseArgs({ options: { tarballs: { type: "string" }, only: { type: "string" } } })
const t0 = Date.now()
const say = (line: string) => console.log(`${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s  ${line}`)
const work = mkdtempSync(join(tmpdir(), "durably-consumer-"))
try {
  let dir = values.tarballs
  if (!dir) {
    dir = join(work, "tarballs")
    mkdirSync(dir)
    say(`packing ${packageNames.map((n) => `@durably/${n}`).join(", ")}`)
    packAll(dir)
  }
  const tarballs = findTarballs(dir)
  const problems = tarballs.flatMap(inspectTarball)
  if (problems.length > 0) throw new Error(`the tarballs are not fit to install:\n  ${problems.join("\n  ")}`)
  say("tarballs hold dist/, .d.ts, LICENSE, README, the migrations; no build cache, no workspace: versions")

  const chosen = values.only ? [scenarios[Number(values.only) - 1]] : scenarios
  for (const [i, scenario] of chosen.entries()) {
    if (!scenario) throw new Error(`no scenario ${values.only}`)
    const app = join(work, `app-${i + 1}`)
    mkdirSync(app)
    say(`${scenario.name}: installing into ${app}`)
    runScenario(scenario, tarballs, app, (line) => say(`  ${line}`))
  }
  say(`consumer test: ${chosen.length} app(s) installed the tarballs and ran`)
} catch (e) {
  console.error(`consumer test FAILED: ${e instanceof Error ? e.message : String(e)}`)
  process.exitCode = 1
} finally {
  if (!process.env["KEEP_CONSUMER_APPS"]) rmSync(work, { recursive: true, force: true })
  else console.log(`apps kept in ${work}`)
}
