/**
 * The tarballs under test: packed from this checkout with pnpm (what `pnpm publish` would upload, prepack and
 * all), and checked for what an installed package needs before any app installs them.
 */
import { execFileSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
export const packageNames = ["core", "postgres", "scheduler", "otel", "dashboard", "cli"] as const
export type PackageName = (typeof packageNames)[number]

export interface Tarball {
  readonly name: PackageName
  readonly path: string
  readonly manifest: {
    readonly peerDependencies?: Record<string, string>
    readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>
  }
}

const pnpm = (args: ReadonlyArray<string>, cwd: string) =>
  execFileSync("pnpm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })

/** Packs every package into `dest`; prepack builds each one's dist/ from scratch. */
export const packAll = (dest: string): void => {
  for (const name of packageNames) pnpm(["pack", "--pack-destination", dest], join(repoRoot, "packages", name))
}

/** The tarballs in `dir`, one per package (packed here, or by hand with `--tarballs DIR`). */
export const findTarballs = (dir: string): ReadonlyArray<Tarball> =>
  packageNames.map((name) => {
    const file = readdirSync(dir).find((f) => f.startsWith(`durably-${name}-`) && f.endsWith(".tgz"))
    if (!file) throw new Error(`no tarball of @durably/${name} in ${dir}`)
    const path = join(dir, file)
    const manifest = JSON.parse(tar(["-xzOf", path, "package/package.json"])) as Tarball["manifest"]
    return { name, path, manifest }
  })

const tar = (args: ReadonlyArray<string>) => execFileSync("tar", args, { encoding: "utf8" })

/** What a tarball must and must not hold; returns the problems found (none: it is fit to install). */
export const inspectTarball = (tarball: Tarball): ReadonlyArray<string> => {
  const files = new Set(tar(["-tzf", tarball.path]).split("\n").filter(Boolean))
  const problems: string[] = []
  const need = ["LICENSE", "README.md", "dist/index.js", "dist/index.d.ts"]
  if (tarball.name === "postgres") need.push("dist/sql/0001_init.sql", "dist/embedded.js")
  if (tarball.name === "dashboard") need.push("assets/index.html")
  if (tarball.name === "cli") need.push("dist/bin.js")
  for (const f of need) if (!files.has(`package/${f}`)) problems.push(`missing ${f}`)
  for (const f of files) if (f.endsWith(".tsbuildinfo")) problems.push(`ships a build cache: ${f}`)
  const manifest = tar(["-xzOf", tarball.path, "package/package.json"])
  if (manifest.includes("workspace:")) problems.push("package.json still names workspace: versions")
  return problems.map((p) => `@durably/${tarball.name}: ${p}`)
}
