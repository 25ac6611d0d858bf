/**
 * Headless Chromium for the dashboard's browser tests: Debian's `chromium` package driven by playwright-core
 * (which never downloads a browser). No chromium, no silent skip: the tests fail saying how to install it.
 */
import { existsSync, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { chromium, type Browser } from "playwright-core"

const candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"]

export const chromiumPath = (): string => {
  const explicit = process.env["CHROMIUM_PATH"]
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`CHROMIUM_PATH=${explicit} does not exist`)
    return explicit
  }
  const found = candidates.find((p) => existsSync(p))
  if (!found)
    throw new Error(
      "the dashboard's browser tests need Chromium, and none is installed. Install Debian's package: " +
        "apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH to a Chromium binary)",
    )
  return found
}

export const launchBrowser = (): Promise<Browser> =>
  chromium.launch({
    executablePath: chromiumPath(),
    // Root in a container has no user namespaces for Chromium's sandbox.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  })

/** Where screenshots go: test artefacts, kept out of git (docs/dashboard/ has the ones the README shows). */
export const artefactsDir = (): string => {
  const dir = fileURLToPath(new URL("../test-results/", import.meta.url))
  mkdirSync(dir, { recursive: true })
  return dir
}
