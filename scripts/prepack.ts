/**
 * Runs before `pnpm pack` / `pnpm publish` in a package: builds dist/ from scratch (so nothing stale or left
 * by another branch ships) and copies in the files whose one source is the repository (LICENSE, the
 * migrations). `files` in package.json keeps build caches out of the tarball.
 */
import { execFileSync } from "node:child_process"
import { cpSync, rmSync } from "node:fs"
import { join } from "node:path"
import { currentPackage, packTimeFiles, repoRoot } from "./pack.ts"

const pkg = currentPackage()
rmSync(join(pkg.dir, "dist"), { recursive: true, force: true })
// tsc -b also brings the packages this one references up to date; their own pack rebuilds them cleanly.
execFileSync(process.execPath, [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-b", pkg.dir], {
  stdio: "inherit",
})
for (const { from, to } of packTimeFiles(pkg)) cpSync(from, join(pkg.dir, to), { recursive: true })
