/**
 * A throwaway Postgres cluster the test owns, so it can restart or crash it: initdb into a directory under
 * /tmp and pg_ctl on a free port, both as the `postgres` user (they refuse to run as root). Trust auth on
 * 127.0.0.1 and the socket directory. fsync is off for speed: that only matters if the OS crashes; a crashed
 * postmaster (`pg_ctl stop -m immediate`) still recovers every committed transaction from the WAL.
 */
import { execFile } from "node:child_process"
import { chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { promisify } from "node:util"
import postgres from "postgres"

const run = promisify(execFile)
const bin = process.env["PG_BIN"] ?? "/usr/lib/postgresql/15/bin"

export interface Cluster {
  readonly port: number
  readonly dir: string
  /** postgres://postgres@127.0.0.1:port/durability */
  readonly url: string
  /** As superuser on the `postgres` database, for administration. */
  readonly adminUrl: string
  readonly pgCtl: (...args: string[]) => Promise<string>
  /** `pg_ctl restart -m fast`: clients are disconnected, the server comes back. */
  readonly restart: () => Promise<void>
  /** `pg_ctl stop` with the given mode (immediate = a crash of the server). */
  readonly stop: (mode: "fast" | "immediate") => Promise<void>
  readonly start: () => Promise<void>
  /** The end of the server log, for failure messages. */
  readonly log: () => Promise<string>
  /** How many times the server log says `text`. */
  readonly logCount: (text: string) => number
  /** Stop it (if running) and remove its directory. */
  readonly destroy: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      )
    })
  })

const asPostgres = async (command: string, args: string[]) => {
  const { stdout } = await run("runuser", ["-u", "postgres", "--", join(bin, command), ...args], { timeout: 120_000 })
  return stdout
}

export const startCluster = async (): Promise<Cluster> => {
  const dir = mkdtempSync("/tmp/durably-pg-")
  const { stdout: uid } = await run("id", ["-u", "postgres"])
  const { stdout: gid } = await run("id", ["-g", "postgres"])
  chownSync(dir, Number(uid.trim()), Number(gid.trim()))
  const data = join(dir, "data")
  const logFile = join(dir, "server.log")
  const port = await freePort()
  const pgCtl = (...args: string[]) => asPostgres("pg_ctl", ["-D", data, ...args])
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`
  const start = async () => {
    await pgCtl("-l", logFile, "-w", "-t", "60", "-o", options, "start")
  }
  let created = false
  const cluster: Cluster = {
    port,
    dir,
    url: `postgres://postgres@127.0.0.1:${port}/durability`,
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    pgCtl,
    restart: async () => {
      await pgCtl("-l", logFile, "-w", "-t", "60", "-m", "fast", "-o", options, "restart")
    },
    stop: async (mode) => {
      await pgCtl("-w", "-t", "60", "-m", mode, "stop")
    },
    start,
    log: async () => {
      try {
        const { stdout } = await run("tail", ["-n", "40", logFile])
        return stdout
      } catch {
        return "(no server log)"
      }
    },
    logCount: (text) => {
      try {
        return readFileSync(logFile, "utf8").split(text).length - 1
      } catch {
        return 0
      }
    },
    destroy: async () => {
      if (created) await pgCtl("-w", "-t", "60", "-m", "immediate", "stop").catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    await asPostgres("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--no-instructions"])
    created = true
    await start()
    const admin = postgres(cluster.adminUrl, { max: 1, onnotice: () => undefined })
    try {
      await admin`CREATE DATABASE durability`
    } finally {
      await admin.end({ timeout: 1 })
    }
    return cluster
  } catch (e) {
    await cluster.destroy()
    throw e
  }
}
