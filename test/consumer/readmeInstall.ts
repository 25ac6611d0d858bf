/**
 * The README's Install section, run line by line in a fresh npm app as a user would type it (our package names
 * stand for the tarballs, everything else is installed by its bare name, the newest release). After the first
 * line alone, the app must have one Effect and the postgres driver (a peer npm installs), no PGlite, and run a
 * workflow on Postgres (app/first.ts); the optional lines follow. Our packages are not on the registry, so a
 * package's dependency on another (the CLI's on the dashboard) is met only by a tarball an earlier line installed:
 * the README names them in that order.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { repoRoot, type Tarball } from "./tarballs.ts"

/** The `npm i …` lines of the README's Install block, each as its arguments (comments dropped). */
export const readmeInstallLines = (): ReadonlyArray<ReadonlyArray<string>> => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8")
  const section = readme.split(/^## /m).find((s) => s.startsWith("Install"))
  const block = section && /```sh\n([\s\S]*?)```/.exec(section)?.[1]
  if (!block) throw new Error("README.md has no sh block under '## Install'")
  const lines = block
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim().split(/\s+/))
    .filter((words) => words[0] === "npm")
  for (const words of lines)
    if (words[1] !== "i") throw new Error(`README Install: not an "npm i" line: ${words.join(" ")}`)
  return lines.map((words) => words.slice(2))
}

export interface InstallSteps {
  readonly exec: (file: string, args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv) => string
  readonly say: (line: string) => void
  /** Runs after the first line alone; the app's toolchain (node, typescript) is already installed. */
  readonly afterFirstLine: () => void
}

export const installAsReadmeSays = (app: string, tarballs: ReadonlyArray<Tarball>, steps: InstallSteps): void => {
  const byName = new Map(tarballs.map((t) => [`@durably/${t.name}`, t.path]))
  for (const [i, args] of readmeInstallLines().entries()) {
    const resolved = args.map((a) => {
      if (!a.startsWith("@durably/")) return a
      const path = byName.get(a)
      if (!path) throw new Error(`README Install names ${a}, which is not one of the packed packages`)
      return path
    })
    steps.exec("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...resolved])
    steps.say(`npm i ${args.join(" ")}`)
    if (i === 0) {
      if (!existsSync(join(app, "node_modules", "postgres", "package.json")))
        throw new Error("after the README's first Install line, npm did not install the postgres driver (a peer)")
      if (existsSync(join(app, "node_modules", "@electric-sql", "pglite")))
        throw new Error("after the README's first Install line, PGlite is installed: it should be optional")
      steps.afterFirstLine()
    }
  }
  const unnamed = tarballs.filter((t) => !readmeInstallLines().some((args) => args.includes(`@durably/${t.name}`)))
  if (unnamed.length > 0)
    throw new Error(`README Install never names ${unnamed.map((t) => `@durably/${t.name}`).join(", ")}`)
}
