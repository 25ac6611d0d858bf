/** Runs after `pnpm pack` / `pnpm publish` in a package: removes what prepack copied in for the tarball. */
import { rmSync } from "node:fs"
import { join } from "node:path"
import { currentPackage, packTimeFiles } from "./pack.ts"

const pkg = currentPackage()
for (const { to } of packTimeFiles(pkg)) rmSync(join(pkg.dir, to), { recursive: true, force: true })
