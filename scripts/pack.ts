/**
 * What `prepack` and `postpack` share: where a package and the repository are, and the files that exist in a
 * package only while it is packed (copied from their one source in the repository, removed afterwards).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("..", import.meta.url))

export interface PackedPackage {
  readonly dir: string
  readonly name: string
}

/** The package being packed: npm and pnpm run lifecycle scripts in its directory. */
export const currentPackage = (): PackedPackage => {
  const dir = process.cwd()
  const { name } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name: string }
  return { dir, name }
}

/** Files copied into a package for its tarball, relative to the package; postpack removes them. */
export const packTimeFiles = (pkg: PackedPackage): ReadonlyArray<{ readonly from: string; readonly to: string }> => [
  { from: join(repoRoot, "LICENSE"), to: "LICENSE" },
  // The migrator looks for dist/sql first (the published layout), then the repository's sql/.
  ...(pkg.name === "@durably/postgres" ? [{ from: join(repoRoot, "sql"), to: join("dist", "sql") }] : []),
]
