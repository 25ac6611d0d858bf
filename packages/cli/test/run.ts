/** Runs the real `durably` executable (its source entry, as the built bin runs it) in a child process. */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const binPath = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** `durably ...args`, with `env` added to (or, as undefined, removed from) this process's environment. */
export const durably = (args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const merged: NodeJS.ProcessEnv = { ...process.env, ...env }
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k]
    const child = spawn(process.execPath, ["--conditions=@durably/source", binPath, ...args], {
      env: merged,
      stdio: ["ignore", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** Every line of NDJSON output, parsed. */
export const ndjson = (text: string): unknown[] =>
  text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as unknown)

/** `durably ...args` left running: resolves with the child once `ready` matches a line of its stdout. */
export const durablyServing = (
  args: ReadonlyArray<string>,
  env: Record<string, string | undefined>,
  ready: RegExp,
): Promise<{
  child: ReturnType<typeof spawn>
  match: RegExpExecArray
  exited: Promise<number | null>
  /** Everything it printed so far. */
  output: () => { stdout: string; stderr: string }
}> =>
  new Promise((resolve, reject) => {
    const merged: NodeJS.ProcessEnv = { ...process.env, ...env }
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k]
    const child = spawn(process.execPath, ["--conditions=@durably/source", binPath, ...args], {
      env: merged,
      stdio: ["ignore", "pipe", "pipe"],
    })
    const exited = new Promise<number | null>((r) => child.on("close", r))
    let stdout = ""
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d
      const match = ready.exec(stdout)
      if (match) resolve({ child, match, exited, output: () => ({ stdout, stderr }) })
    })
    void exited.then((code) => reject(new Error(`durably exited (${code}) before it was ready: ${stderr}`)))
  })
