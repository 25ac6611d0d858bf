/**
 * One fresh app outside the repository per scenario: it installs the tarballs with the scenario's package
 * manager, Node and versions of the peer dependencies (all at once, or the README's Install lines one by one), then
 * type-checks and runs the programs in app/ and the README's Effect-flavour example.
 */
import { execFileSync, type ExecFileSyncOptions } from "node:child_process"
import { copyFileSync, existsSync, lstatSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs"
import { delimiter, dirname, join } from "node:path"
import { installAsReadmeSays } from "./readmeInstall.ts"
import { repoRoot, type Tarball } from "./tarballs.ts"

export interface Scenario {
  readonly name: string
  readonly packageManager: "npm" | "pnpm"
  /** The version of the npm package `node` the app installs and runs on; absent: the Node running this test. */
  readonly node?: string
  /** The bottom of each peer dependency's stated range, or the newest version inside it. */
  readonly peers: "lowest" | "newest"
  readonly typescript: string
  readonly typesNode: string
  /** Also type-check the shipped sources against the installed Effect: our own use of it fits its range's bottom. */
  readonly checkSources?: boolean
  /** Install as the README's Install section says, line by line, newest releases (npm only; `peers` is ignored). */
  readonly readmeInstall?: boolean
}

/** The peers a user installs (README: Install), with the ranges the packed manifests state. */
const peerRanges = (tarballs: ReadonlyArray<Tarball>): ReadonlyMap<string, string> => {
  const ranges = new Map<string, string>()
  for (const t of tarballs)
    for (const [name, range] of Object.entries(t.manifest.peerDependencies ?? {}))
      if (name !== "vitest") ranges.set(name, range)
  return ranges
}

const lowest = (name: string, range: string): string => {
  const m = /^\^(\d+\.\d+\.\d+)$/.exec(range)
  if (!m?.[1]) throw new Error(`cannot tell the lowest version of ${name} from its range ${range}`)
  return m[1]
}

/** Stores the README's "The Effect flavour" example in the app, exactly as the README shows it. */
export const readmeEffectExample = (): string => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8")
  const section = readme.split(/^## /m).find((s) => s.startsWith("The Effect flavour"))
  const code = section && /```ts\n([\s\S]*?)```/.exec(section)?.[1]
  if (!code) throw new Error("README.md has no ts block under '## The Effect flavour'")
  return code
}

const tsconfig = (resolution: "NodeNext" | "Bundler") => ({
  compilerOptions: {
    target: "ES2022",
    module: resolution === "NodeNext" ? "NodeNext" : "Preserve",
    moduleResolution: resolution,
    strict: true,
    // Our .d.ts files and Effect's are checked as the user's compiler sees them.
    skipLibCheck: false,
    types: ["node"],
    ...(resolution === "NodeNext" ? { outDir: "out" } : { noEmit: true }),
  },
  files: ["main.ts", "readme-effect.ts"],
})

/** The shipped src/ of every package under the repository's own strictness (explicit `include` beats the default exclude). */
const sourcesTsconfig = {
  compilerOptions: {
    target: "ES2023",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: ["node"],
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    allowImportingTsExtensions: true,
    noEmit: true,
    // Only our sources are in question here (PGlite's own .d.ts need @types/emscripten to pass a lib check).
    skipLibCheck: true,
  },
  // The dashboard's sources pass a Buffer as a fetch body, which only @types/node >= 24 accepts; its .d.ts are
  // checked with everything else, and it runs on Node 22 below.
  include: ["core", "postgres", "scheduler", "cli"].map((p) => `node_modules/@durably/${p}/src/**/*.ts`),
}

const dropSchema = (schema: string) => `
  import postgres from "postgres"
  const options = { onnotice: () => {} }
  const sql = process.env.DATABASE_URL ? postgres(process.env.DATABASE_URL, options) : postgres(options)
  await sql.unsafe('DROP SCHEMA IF EXISTS "${schema}" CASCADE')
  await sql.end()`

/** Every installed copy of a package in the app, by real path (a second copy means duplicated types). */
export const installedCopies = (app: string, pkg: string): ReadonlyArray<string> => {
  const found = new Set<string>()
  const scan = (nodeModules: string) => {
    if (!existsSync(nodeModules)) return
    for (const entry of readdirSync(nodeModules)) {
      const dir = join(nodeModules, entry)
      if (entry === ".pnpm") for (const sub of readdirSync(dir)) scan(join(dir, sub, "node_modules"))
      else if (entry.startsWith("@")) for (const sub of readdirSync(dir)) visit(join(dir, sub), `${entry}/${sub}`)
      else if (!entry.startsWith(".")) visit(dir, entry)
    }
  }
  const visit = (dir: string, name: string) => {
    if (name === pkg && existsSync(join(dir, "package.json"))) found.add(realpathSync(dir))
    if (!lstatSync(dir).isSymbolicLink()) scan(join(dir, "node_modules"))
  }
  scan(join(app, "node_modules"))
  return [...found]
}

const expectOneEffect = (app: string): void => {
  const effects = installedCopies(app, "effect")
  if (effects.length !== 1)
    throw new Error(`expected one copy of effect, found ${effects.length}: ${effects.join(", ")}`)
}

/** app/first.ts, compiled as a NodeNext project would (our .d.ts checked too). */
const firstProgramFlags = [
  ...["--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext", "--strict"],
  ...["--skipLibCheck", "false", "--types", "node", "--outDir", "out"],
]

/** Builds the app in `app` (an empty directory), installs, checks and runs it; throws on the first failure. */
export const runScenario = (
  scenario: Scenario,
  tarballs: ReadonlyArray<Tarball>,
  app: string,
  say: (line: string) => void,
): void => {
  const exec = (file: string, args: ReadonlyArray<string>, options: ExecFileSyncOptions = {}): string => {
    try {
      return String(execFileSync(file, args, { cwd: app, encoding: "utf8", stdio: "pipe", ...options }))
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string }
      throw new Error(`${[file, ...args].join(" ")} failed\n${err.stdout ?? ""}${err.stderr ?? err.message}`)
    }
  }
  const toolchain = [`typescript@${scenario.typescript}`, `@types/node@${scenario.typesNode}`]
  if (scenario.node) toolchain.push(`node@${scenario.node}`)
  const node = scenario.node ? join(app, "node_modules", ".bin", "node") : process.execPath
  const tsc = join(app, "node_modules", "typescript", "bin", "tsc")
  const manifest = JSON.stringify({ name: "durably-consumer", private: true, type: "module" })
  if (scenario.readmeInstall) {
    writeFileSync(join(app, "package.json"), manifest)
    exec("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "-D", ...toolchain])
    installAsReadmeSays(app, tarballs, {
      exec: (file, args) => exec(file, args),
      say,
      afterFirstLine: () => {
        expectOneEffect(app)
        copyFileSync(new URL("./app/first.ts", import.meta.url), join(app, "first.ts"))
        exec(node, [tsc, ...firstProgramFlags, "first.ts"])
        const schema = `durably_first_${process.pid}_${Date.now().toString(36)}`
        try {
          const env = { ...process.env, DURABLY_SCHEMA: schema }
          exec(node, ["out/first.js"], { timeout: 180_000, env }).trim().split("\n").forEach(say)
        } finally {
          exec(node, ["--input-type=module", "-e", dropSchema(schema)])
        }
      },
    })
  } else {
    writeFileSync(join(app, "package.json"), manifest)
    const specs = [...peerRanges(tarballs)].map(([name, range]) =>
      scenario.peers === "lowest" ? `${name}@${lowest(name, range)}` : `${name}@${range}`,
    )
    specs.push(...toolchain)
    const paths = tarballs.map((t) => t.path)
    if (scenario.packageManager === "npm") {
      exec("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...paths, ...specs])
    } else {
      // Until they are on the registry, our packages' dependencies on each other must come from the tarballs.
      const overrides = tarballs.map((t) => `  "@durably/${t.name}": "file:${t.path}"\n`).join("")
      writeFileSync(join(app, "pnpm-workspace.yaml"), `overrides:\n${overrides}`)
      exec("pnpm", ["add", "--reporter=append-only", ...paths, ...specs])
    }
  }
  const version = exec(node, ["--version"]).trim()
  if (scenario.node && !version.startsWith(`v${scenario.node}`))
    throw new Error(`the app runs on Node ${version}, not ${scenario.node}`)
  const installed = (name: string) =>
    (JSON.parse(readFileSync(join(app, "node_modules", name, "package.json"), "utf8")) as { version: string }).version
  say(
    `Node ${version}; ${["effect", "postgres", "@electric-sql/pglite", "typescript"].map((n) => `${n} ${installed(n)}`).join(", ")}`,
  )

  expectOneEffect(app)
  say("one copy of effect")

  for (const f of ["main.ts"]) copyFileSync(new URL(`./app/${f}`, import.meta.url), join(app, f))
  writeFileSync(join(app, "readme-effect.ts"), readmeEffectExample())
  for (const resolution of ["NodeNext", "Bundler"] as const) {
    writeFileSync(join(app, `tsconfig.${resolution}.json`), JSON.stringify(tsconfig(resolution), null, 2))
    exec(node, [tsc, "-p", `tsconfig.${resolution}.json`])
    say(`type-checks under moduleResolution ${resolution} (skipLibCheck false)`)
  }

  if (scenario.checkSources) {
    writeFileSync(join(app, "tsconfig.sources.json"), JSON.stringify(sourcesTsconfig, null, 2))
    exec(node, [tsc, "-p", "tsconfig.sources.json"])
    say("the shipped sources type-check against this Effect")
  }

  const run = (file: string, env: NodeJS.ProcessEnv = {}) =>
    exec(node, [file], { timeout: 180_000, env: { ...process.env, ...env } }).trim()
  // A Postgres schema of this app's own, dropped at the end.
  const schema = `durably_consumer_${process.pid}_${Date.now().toString(36)}`
  try {
    const main = run("out/main.js", { DURABLY_SCHEMA: schema })
    for (const part of ["embedded", "postgres"])
      if (!new RegExp(`^${part}: ok`, "m").test(main)) throw new Error(`main.ts said:\n${main}`)
    main.split("\n").forEach(say)
    // The command, through the bin link npm or pnpm made, finds the schema the program migrated up to date.
    // Run as `npx durably` would: the bin (a link, or pnpm's shell shim) finds node on PATH.
    const durably = join(app, "node_modules", ".bin", "durably")
    const PATH = `${dirname(node)}${delimiter}${process.env["PATH"] ?? ""}`
    const migrated = JSON.parse(
      exec(durably, ["migrate", "--schema", schema, "--json"], { env: { ...process.env, PATH } }),
    ) as Record<string, unknown>
    if (migrated["from"] !== migrated["to"] || !(Number(migrated["to"]) > 0))
      throw new Error(`durably migrate said: ${JSON.stringify(migrated)}`)
    say(`durably migrate: ${schema} already at version ${String(migrated["to"])}`)
  } finally {
    exec(node, ["--input-type=module", "-e", dropSchema(schema)])
  }
  const effect = run("out/readme-effect.js")
  if (effect !== "receipt for 1001") throw new Error(`the README's Effect example said: ${effect}`)
  say("the README's Effect example runs")

  // require(esm): CommonJS code gets the same modules (Node >= 22.12, no flag).
  const required = exec(node, [
    "-e",
    `const { Durably } = require("@durably/core"); const { postgresStore } = require("@durably/postgres"); console.log(typeof Durably.launch, typeof postgresStore)`,
  ]).trim()
  if (required !== "function function") throw new Error(`require() gave: ${required}`)
  say("require() works")
}
