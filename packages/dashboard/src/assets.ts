/** The UI's files, shipped in the package's assets/ directory and read once (no build step anywhere). */
import { readdirSync, readFileSync } from "node:fs"
import { extname } from "node:path"
import { fileURLToPath } from "node:url"

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
}

export interface Asset {
  readonly body: Uint8Array
  readonly type: string
}

/** Works from src/ and from dist/: both sit beside assets/. */
export const assetsDir = fileURLToPath(new URL("../assets/", import.meta.url))

let loaded: ReadonlyMap<string, Asset> | undefined

/** Every asset by its path ("/index.html", "/app.js", …). */
export const assets = (): ReadonlyMap<string, Asset> =>
  (loaded ??= new Map(
    readdirSync(assetsDir)
      .filter((f) => types[extname(f)])
      .map((f) => [`/${f}`, { body: readFileSync(assetsDir + f), type: types[extname(f)]! }]),
  ))
