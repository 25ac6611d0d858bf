/**
 * The stores' options, checked when the store is made: a bad option fails there with InvalidArgument naming
 * it, instead of hanging at launch (`max: 0`), flooding the server (`pollInterval: 0`) or failing every
 * completion later (a schema name whose NOTIFY channel is too long). Connection URLs are parsed here the way
 * postgres.js parses them, so a malformed one is refused before the driver sees it, and never echoed: it
 * may hold a password.
 */
import { resolve, sep } from "node:path"
import { InvalidArgument } from "@durably/core"
import { describeValue } from "@durably/core/internal"

/**
 * Longest schema name. Postgres cuts identifiers at 63 bytes, and the NOTIFY channel is `durably_<schema>`
 * (8 more characters): a longer name would leave every wake-up, and so every completion, failing.
 */
export const maxSchemaLength = 63 - "durably_".length

/** The schema name, checked: a lower-case SQL identifier short enough for every name derived from it. */
export const validateSchema = (schema: unknown): string => {
  if (typeof schema !== "string" || !/^[a-z_][a-z0-9_]*$/.test(schema) || schema.length > maxSchemaLength)
    throw new InvalidArgument({
      reason: `schema must be a lower-case SQL identifier (letters, digits, _) of at most ${maxSchemaLength} characters; got ${typeof schema === "string" ? JSON.stringify(schema.slice(0, 80)) : typeof schema}`,
    })
  return schema
}

/** Refuses a connection URL that postgres.js could not parse; the error never shows the URL (it may hold a password). */
export const validateUrl = (url: unknown, what: string): void => {
  if (url === undefined) return
  const bad = (why: string) =>
    new InvalidArgument({
      reason: `${what}: url ${why}; expected postgres://user:password@host:port/database (the value is not shown: it may hold a password)`,
    })
  if (typeof url !== "string" || url.trim() === "") throw bad("must be a non-empty string")
  try {
    // As postgres.js reads it: the first of several hosts stands in for all of them.
    let host = url.slice(url.indexOf("://") + 3).split(/[?/]/)[0] ?? ""
    host = decodeURIComponent(host.slice(host.indexOf("@") + 1))
    const parsed = new URL(url.replace(host, host.split(",")[0] ?? ""))
    decodeURIComponent(parsed.username)
    decodeURIComponent(parsed.password)
    if (!/^postgres(ql)?:$/.test(parsed.protocol)) throw bad("must start with postgres:// or postgresql://")
  } catch (e) {
    if (e instanceof InvalidArgument) throw e
    throw bad("is not a valid connection URL")
  }
}

/** A whole number option in [min, max], or its default. */
export const integerOption = (value: unknown, what: string, min: number, max: number, fallback: number): number => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw new InvalidArgument({
      reason: `${what} must be a whole number from ${min} to ${max}; got ${typeof value === "number" ? String(value) : typeof value}`,
    })
  return value
}

/** Options must be an object (or left out). */
export const optionsObject = <O extends object>(options: O | undefined, what: string): O => {
  if (options === undefined) return {} as O
  if (typeof options !== "object" || options === null)
    throw new InvalidArgument({ reason: `${what} takes an options object` })
  return options
}

/** Longest file or directory name most file systems take, in bytes (NAME_MAX). */
const maxNameBytes = 255

/**
 * Longest embedded directory, in bytes once resolved: Linux refuses paths of 4,096 bytes and more (PATH_MAX),
 * and PGlite's own files go up to about 60 bytes below the directory (`pgdata/pg_wal/archive_status/…`).
 */
export const maxDirBytes = 3_800

/**
 * The embedded store's directory, resolved and checked: a path the file system would refuse (NUL, a name past
 * 255 bytes, a path past `maxDirBytes`) fails here naming the option, not as a raw ENAMETOOLONG from the lock.
 */
export const validateDir = (dir: unknown): string => {
  const bad = (why: string) => new InvalidArgument({ reason: `embeddedStore: dir ${why}; got ${describeValue(dir)}` })
  if (dir === undefined) return resolve(".durably")
  if (typeof dir !== "string" || dir === "" || dir.includes("\0"))
    throw bad("must be a non-empty path without NUL characters")
  const resolved = resolve(dir)
  if (resolved.split(sep).some((name) => Buffer.byteLength(name) > maxNameBytes))
    throw bad(`must not have a file or directory name longer than ${maxNameBytes} bytes`)
  if (Buffer.byteLength(resolved) > maxDirBytes)
    throw bad(`must be at most ${maxDirBytes} bytes long once resolved (PGlite's files below it must fit in a path)`)
  return resolved
}
