/**
 * The embedded store's directory lock, on real processes: a second process is refused with the owner's
 * pid, a SIGKILLed owner's lock is taken over (and its commits are there), and closing releases the lock.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { DirectoryLocked, embeddedStore } from "../src/embedded.ts"

const childScript = fileURLToPath(new URL("./fixtures/embedded-child.ts", import.meta.url))
const root = mkdtempSync(join(tmpdir(), "durably-embedded-lock-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

// Creating a PGlite database (initdb) takes seconds; each test starts from a copy of one made up front.
const template = join(root, "template")
beforeAll(async () => {
  const store = embeddedStore({ dir: template })
  await Effect.runPromise(store.listWorkflows({}))
  await Effect.runPromise(store.close())
})
let n = 0
const freshDir = (withDatabase = true) => {
  const dir = join(root, `db${++n}`)
  if (withDatabase) cpSync(template, dir, { recursive: true })
  return dir
}

/** What embedded-child.ts prints: the workflow ids it sees, or why it could not open the store. */
interface Report {
  readonly pid?: number
  readonly ids?: string[]
  readonly error?: string
  readonly message?: string
}
interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}
interface Child {
  readonly process: ChildProcess
  /** The first line it prints. */
  readonly line: Promise<Report>
  readonly exit: Promise<Exit>
  /** Ask it to close the store and exit. */
  readonly close: () => Promise<Exit>
}

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})

const start = (dir: string, id: string): Child => {
  const proc = spawn(process.execPath, ["--conditions=@durably/source", childScript, dir, id], {
    stdio: ["pipe", "pipe", "pipe"],
  })
  children.push(proc)
  let stderr = ""
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
  const exit = new Promise<Exit>((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })))
  const line = new Promise<Report>((resolve, reject) => {
    createInterface({ input: proc.stdout }).once("line", (l) => resolve(JSON.parse(l) as Report))
    void exit.then(({ code }) => reject(new Error(`child exited (${code}) before printing: ${stderr}`)))
  })
  line.catch(() => undefined)
  return {
    process: proc,
    line,
    exit,
    close: () => {
      proc.stdin.write("close\n")
      return exit
    },
  }
}

const lockFile = (dir: string) => join(dir, "durably.lock")

const waitFor = async (ok: () => boolean) => {
  const deadline = Date.now() + 30_000
  while (!ok()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition")
    await new Promise((r) => setTimeout(r, 20))
  }
}

// Each case starts PGlite in child processes, seconds each on a quiet machine and tens of seconds on a
// loaded one: a budget for that, not the default 30 s.
describe("embedded store: one process per directory", { timeout: 120_000 }, () => {
  it("a second process is refused with an error naming the owner's pid", async () => {
    const dir = freshDir()
    const owner = start(dir, "first")
    expect((await owner.line).ids).toEqual(["first"])
    const second = start(dir, "second")
    const refused = await second.line
    expect(refused.error).toBe("DirectoryLocked")
    expect(refused.message).toContain(`in use by process ${owner.process.pid}`)
    expect(refused.message).toContain(lockFile(dir))
    expect(await second.exit).toEqual({ code: 3, signal: null })
    expect(await owner.close()).toEqual({ code: 0, signal: null })
  })

  it("after the owner is SIGKILLed, a new process takes the directory over and sees what it committed", async () => {
    const dir = freshDir()
    const victim = start(dir, "before-crash")
    expect((await victim.line).ids).toEqual(["before-crash"])
    victim.process.kill("SIGKILL")
    expect(await victim.exit).toEqual({ code: null, signal: "SIGKILL" })
    // The dead owner's lock is still there: the next process has to take it over.
    expect(JSON.parse(readFileSync(lockFile(dir), "utf8")).pid).toBe(victim.process.pid)
    const next = start(dir, "after-crash")
    expect((await next.line).ids).toEqual(["before-crash", "after-crash"])
    expect(await next.close()).toEqual({ code: 0, signal: null })
  })

  it.runIf(process.platform === "linux")(
    "right after a SIGKILL, before its parent reaped it (a zombie), the next process takes the directory over",
    async () => {
      const dir = freshDir()
      // The owner's parent is a `sleep` that never waits for its children, so once killed it stays a zombie:
      // what a supervisor that restarts at once, before collecting its dead child, leaves behind.
      const script = [process.execPath, "--conditions=@durably/source", childScript, dir, "before-crash"]
        .map((a) => `'${a}'`)
        .join(" ")
      const parent = spawn("sh", ["-c", `${script} & exec sleep 600`], { stdio: ["ignore", "pipe", "inherit"] })
      children.push(parent)
      const report = await new Promise<Report>((resolve) =>
        createInterface({ input: parent.stdout }).once("line", (l) => resolve(JSON.parse(l) as Report)),
      )
      expect(report.ids).toEqual(["before-crash"])
      const pid = report.pid!
      process.kill(pid, "SIGKILL")
      const state = () => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0]
      await waitFor(() => state() === "Z")
      expect(JSON.parse(readFileSync(lockFile(dir), "utf8")).pid).toBe(pid)
      const next = start(dir, "after-crash")
      expect((await next.line).ids).toEqual(["before-crash", "after-crash"])
      expect(state()).toBe("Z") // still unreaped: the lock was taken over from a zombie
      expect(await next.close()).toEqual({ code: 0, signal: null })
    },
  )

  it("closing releases the lock, and the next process opens the directory", async () => {
    const dir = freshDir()
    const first = start(dir, "one")
    await first.line
    expect(await first.close()).toEqual({ code: 0, signal: null })
    expect(existsSync(lockFile(dir))).toBe(false)
    const second = start(dir, "two")
    expect((await second.line).ids).toEqual(["one", "two"])
    expect(await second.close()).toEqual({ code: 0, signal: null })
  })

  it("in one process, a second store on an open directory is refused until the first is closed", async () => {
    const dir = freshDir(false)
    const first = embeddedStore({ dir })
    expect(() => embeddedStore({ dir })).toThrow(DirectoryLocked)
    expect(() => embeddedStore({ dir })).toThrow(/already open in this process/)
    await Effect.runPromise(first.close())
    await Effect.runPromise(first.close()) // idempotent
    expect(existsSync(lockFile(dir))).toBe(false)
    await Effect.runPromise(embeddedStore({ dir }).close())
  })

  it.runIf(process.platform === "linux")(
    "a live process that merely reuses the dead owner's pid does not hold the lock",
    async () => {
      const dir = freshDir(false)
      mkdirSync(dir)
      const stranger = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" })
      children.push(stranger)
      const pid = stranger.pid!
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      const realStart = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
      const lock = (start: string) => JSON.stringify({ pid, hostname: hostname(), start, token: "x" })
      // The lock names the live pid with its real start time: held.
      writeFileSync(lockFile(dir), lock(realStart!))
      expect(() => embeddedStore({ dir })).toThrow(`in use by process ${pid}`)
      // The same pid, but the owner started at another time: that owner is dead, the pid was reused.
      writeFileSync(lockFile(dir), lock("1"))
      await Effect.runPromise(embeddedStore({ dir }).close())
    },
  )

  it("a torn lock file (its writer died while writing it) is taken over once it is old", async () => {
    const dir = freshDir(false)
    await Effect.runPromise(embeddedStore({ dir }).close())
    writeFileSync(lockFile(dir), "")
    const old = new Date(Date.now() - 60_000)
    utimesSync(lockFile(dir), old, old)
    await Effect.runPromise(embeddedStore({ dir }).close())
    expect(existsSync(lockFile(dir))).toBe(false)
  })
})
