/**
 * The command framework: each command declares its positionals and flags once; parsing (node:util's
 * parseArgs, strict), `--help` and the usage errors all come from that declaration.
 */
import { parseArgs } from "node:util"
import { usageError } from "./exitCodes.ts"

export interface FlagSpec {
  readonly type: "string" | "boolean"
  readonly description: string
  readonly short?: string
  /** May be given several times (`--status ERROR --status DEAD`); comma lists are split too. */
  readonly multiple?: boolean
  /** Shown in help: `--status <STATUS>`. */
  readonly placeholder?: string
}

export interface ArgSpec {
  readonly name: string
  readonly description: string
  readonly optional?: boolean
}

export type Flags = Readonly<Record<string, FlagSpec>>

export interface Parsed {
  readonly args: ReadonlyArray<string>
  readonly strings: (name: string) => ReadonlyArray<string>
  readonly string: (name: string) => string | undefined
  readonly bool: (name: string) => boolean
}

/** Flags every command takes. */
export const globalFlags: Flags = {
  url: {
    type: "string",
    placeholder: "URL",
    description: "Postgres connection URL (default: $DATABASE_URL, else the PG* variables)",
  },
  schema: { type: "string", placeholder: "NAME", description: "Durably's schema (default: durably)" },
  dir: { type: "string", placeholder: "DIR", description: "use the embedded store (PGlite) in this directory" },
  json: { type: "boolean", description: "machine-readable output: one JSON document, or NDJSON for lists" },
  "no-color": { type: "boolean", description: "no colour even on a terminal (NO_COLOR=1 does the same)" },
  help: { type: "boolean", short: "h", description: "show this help" },
}

export const parse = (argv: ReadonlyArray<string>, flags: Flags, args: ReadonlyArray<ArgSpec>): Parsed => {
  const all = { ...globalFlags, ...flags }
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {}
  for (const [name, spec] of Object.entries(all))
    options[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    }
  let values: Record<string, unknown>
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true }))
  } catch (cause) {
    // parseArgs' messages name the flag; drop its advice about "--" which does not apply here.
    throw usageError(String((cause as Error).message).replace(/\s*To specify a positional argument.*$/s, ""))
  }
  if (!values["help"]) {
    const required = args.filter((a) => !a.optional).length
    if (positionals.length < required) throw usageError(`missing <${args[positionals.length]?.name}>`)
    if (positionals.length > args.length)
      throw usageError(`unexpected argument ${JSON.stringify(positionals[args.length])}`)
  }
  return {
    args: positionals,
    strings: (name) => {
      const v = values[name]
      const list = v === undefined ? [] : Array.isArray(v) ? (v as string[]) : [v as string]
      return list
        .flatMap((s) => s.split(","))
        .map((s) => s.trim())
        .filter((s) => s !== "")
    },
    string: (name) => {
      const v = values[name]
      return typeof v === "string" ? v : undefined
    },
    bool: (name) => values[name] === true,
  }
}

const flagLine = (name: string, spec: FlagSpec): [string, string] => [
  `${spec.short ? `-${spec.short}, ` : "    "}--${name}${spec.type === "string" ? ` <${spec.placeholder ?? "VALUE"}>` : ""}`,
  spec.description + (spec.multiple ? " (repeatable, or comma-separated)" : ""),
]

const columns = (rows: ReadonlyArray<[string, string]>): string => {
  const width = Math.max(0, ...rows.map(([a]) => a.length))
  return rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`).join("\n")
}

export interface HelpInput {
  readonly usage: string
  readonly summary: string
  readonly details?: string
  readonly args?: ReadonlyArray<ArgSpec>
  readonly flags?: Flags
  readonly subcommands?: ReadonlyArray<[string, string]>
}

/** Help text for a command (or a group of them). */
export const help = (h: HelpInput): string => {
  const parts = [`${h.summary}\n\nUsage: ${h.usage}`]
  if (h.details) parts.push(h.details)
  if (h.subcommands?.length) parts.push(`Commands:\n${columns(h.subcommands)}`)
  if (h.args?.length)
    parts.push(
      `Arguments:\n${columns(h.args.map((a) => [`<${a.name}>`, a.description + (a.optional ? " (optional)" : "")]))}`,
    )
  if (h.flags && Object.keys(h.flags).length)
    parts.push(`Options:\n${columns(Object.entries(h.flags).map(([n, s]) => flagLine(n, s)))}`)
  parts.push(`Global options:\n${columns(Object.entries(globalFlags).map(([n, s]) => flagLine(n, s)))}`)
  return parts.join("\n\n") + "\n"
}
