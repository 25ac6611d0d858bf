/**
 * An exclusive lock on a directory, held by one process: a lock file created atomically (`wx`) that names
 * its owner. PGlite takes no lock of its own, and two processes on one data directory corrupt it, so the
 * embedded store holds this for as long as it is open.
 *
 * A lock whose owner is dead is taken over, so a SIGKILLed process restarts cleanly. "Dead" means, on the
 * same host: `process.kill(pid, 0)` says ESRCH, or (on Linux) the process with that pid started at another
 * time than the owner did, i.e. the pid was reused, or it has exited and waits to be reaped (a zombie: a
 * supervisor that restarts at once may not have collected its dead child yet, and the pid still answers). Where the start time cannot be read (macOS, Windows) a
 * reused pid makes the lock look held: the error says which file to delete. A lock written on another host
 * is never taken over (its owner cannot be checked from here).
 */
import { randomBytes } from "node:crypto"
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { Data } from "effect"

/** Another live process (or another store in this process) has the directory open. */
export class DirectoryLocked extends Data.TaggedError("DirectoryLocked")<{
  readonly dir: string
  readonly lockFile: string
  readonly pid: number
  readonly hostname: string
  /** The owner is this very process: another store on the directory is still open here. */
  readonly sameProcess: boolean
}> {
  override get message() {
    if (this.sameProcess)
      return `the directory ${this.dir} is already open in this process (pid ${this.pid}): close the other store on it first`
    const where = this.hostname === hostname() ? "" : ` on host ${this.hostname}`
    return (
      `the directory ${this.dir} is in use by process ${this.pid}${where}: two processes must not open one embedded ` +
      `database. Stop that process or use another directory; if no such process exists any more, delete ${this.lockFile}.`
    )
  }
}

interface Owner {
  readonly pid: number
  readonly hostname: string
  /** Linux: the process's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  readonly start: string | null
  readonly token: string
}

/** Fields 3… of /proc/<pid>/stat (Linux), or null where there is none. */
const procStat = (pid: number): string[] | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name, which is in parentheses and may contain anything: state is field 3.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  } catch {
    return null
  }
}

/** When a process started (Linux), to tell a live owner from an unrelated process that reuses its pid. */
const startTime = (pid: number): string | null => procStat(pid)?.[19] ?? null

/**
 * A process that has exited but is not yet reaped (Z) or is being torn down (X) still answers
 * `kill(pid, 0)`, yet holds no file open any more. A stopped one (T) is alive: it may be continued.
 */
const exited = (pid: number): boolean => {
  const state = procStat(pid)?.[0]
  return state === "Z" || state === "X"
}

const readOwner = (file: string): Owner | "missing" | "unreadable" => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "missing"
    throw e
  }
  try {
    const o = JSON.parse(text) as Partial<Owner>
    if (typeof o.pid === "number" && typeof o.hostname === "string" && typeof o.token === "string")
      return { pid: o.pid, hostname: o.hostname, start: typeof o.start === "string" ? o.start : null, token: o.token }
  } catch {
    // a lock being written right now, or a torn one: judged by its age below
  }
  return "unreadable"
}

type Liveness = "alive" | "dead" | "this-process"

const liveness = (owner: Owner, me: Owner): Liveness => {
  if (owner.hostname !== me.hostname) return "alive"
  const now = startTime(owner.pid)
  // Same pid, another start time: the owner died and its pid was reused (by us, or by someone else).
  if (owner.start !== null && now !== null && owner.start !== now) return "dead"
  if (owner.pid === me.pid) return "this-process"
  if (exited(owner.pid)) return "dead"
  try {
    process.kill(owner.pid, 0)
    return "alive"
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH" ? "dead" : "alive" // EPERM: alive, someone else's
  }
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** A lock file younger than this with no readable owner is being written; older, its writer died mid-write. */
const tornAfterMs = 2000

export interface DirLock {
  readonly file: string
  /** Remove the lock file if it is still ours. Idempotent. */
  readonly release: () => void
}

/** Take the lock on `dir` (created if missing), or throw DirectoryLocked naming the live owner. */
export const lockDirectory = (dir: string, name = "durably.lock"): DirLock => {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, name)
  const me: Owner = {
    pid: process.pid,
    hostname: hostname(),
    start: startTime(process.pid),
    token: randomBytes(12).toString("hex"),
  }
  const deadline = Date.now() + 10_000
  for (;;) {
    if (Date.now() > deadline) throw new Error(`could not take the lock ${file}: it keeps changing hands`)
    let fd: number
    try {
      fd = openSync(file, "wx", 0o644)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
      const owner = readOwner(file)
      if (owner === "missing") continue
      if (owner === "unreadable") {
        if (ageMs(file) < tornAfterMs) sleepSync(20)
        else removeIfSame(file, undefined)
        continue
      }
      const state = liveness(owner, me)
      if (state === "dead") {
        removeIfSame(file, owner.token)
        continue
      }
      throw new DirectoryLocked({
        dir,
        lockFile: file,
        pid: owner.pid,
        hostname: owner.hostname,
        sameProcess: state === "this-process",
      })
    }
    try {
      writeSync(fd, JSON.stringify({ ...me, createdAt: new Date().toISOString() }))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    let released = false
    return {
      file,
      release: () => {
        if (released) return
        released = true
        const owner = readOwner(file)
        if (typeof owner === "object" && owner.token === me.token) unlinkSafe(file)
      },
    }
  }
}

const ageMs = (file: string) => {
  try {
    return Date.now() - statSync(file).mtimeMs
  } catch {
    return 0
  }
}

const unlinkSafe = (file: string) => {
  try {
    unlinkSync(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
  }
}

/**
 * Remove a dead owner's lock, and only that one: racing takers could otherwise each delete the lock that
 * another had just created. The file is first renamed aside (atomic: one taker gets it) and checked; a lock
 * that is not the one judged dead is put back. (Three processes racing within that instant could still
 * leave two owners; two cannot.)
 */
const removeIfSame = (file: string, token: string | undefined) => {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`
  try {
    renameSync(file, aside)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return
    throw e
  }
  const moved = readOwner(aside)
  const same = token === undefined ? moved === "unreadable" : typeof moved === "object" && moved.token === token
  if (!same) {
    try {
      // link, not rename: it fails instead of replacing a lock created in the meantime.
      linkSync(aside, file)
    } catch {
      // someone holds the lock now; the displaced one's owner will find it is not theirs on release
    }
  }
  unlinkSafe(aside)
}
