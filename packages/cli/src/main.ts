/**
 * `durably <command> [options]`: finds the command, parses its flags, runs it, and turns whatever it
 * throws into one line on stderr and a documented exit code.
 */
import { readFileSync } from "node:fs"
import { Durably, type DurablyClient, type Store } from "@durably/core"
import { Effect } from "effect"
import { help, parse } from "./args.ts"
import type { Command, CommandContext } from "./command.ts"
import { commands as allCommands, groups as allGroups } from "./commands/index.ts"
import { describeConnection, openStore, redact, resolveConnection, secretsOf, type Connection } from "./connection.ts"
import { CliFailure, ExitCode, usageError } from "./exitCodes.ts"
import { classify } from "./failures.ts"
import { makeOutput, type Io } from "./output/output.ts"

const version = (): string =>
  (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version

const usagePath = (path: ReadonlyArray<string>) => `durably ${path.join(" ")}`

const commandHelp = (c: Command) =>
  help({
    usage: `${usagePath(c.path)}${(c.args ?? []).map((a) => (a.optional ? ` [${a.name}]` : ` <${a.name}>`)).join("")} [options]`,
    summary: c.summary,
    ...(c.details ? { details: c.details } : {}),
    ...(c.args ? { args: c.args } : {}),
    ...(c.flags ? { flags: c.flags } : {}),
  })

/** Help for the commands under `prefix` (all of them for the empty prefix). */
const groupHelp = (commands: ReadonlyArray<Command>, prefix: ReadonlyArray<string>) => {
  const under = commands.filter((c) => prefix.every((p, i) => c.path[i] === p))
  const group = allGroups.find((g) => g.name === prefix[0])
  return help({
    usage: `${usagePath(prefix)}${prefix.length ? " " : ""}<command> [options]`,
    summary: group?.summary ?? "durably: operate Durably workflows from the command line",
    ...(prefix.length === 0 && {
      details:
        "Connect with --url (or DATABASE_URL, or the PG* variables) and --schema, or --dir for an embedded store.\nExit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 refused, 5 database. Details: docs/cli.md",
    }),
    subcommands: under.map((c) => [c.path.slice(prefix.length).join(" "), c.summary]),
  })
}

/** The command named by the leading words of `argv`, and the rest. */
const find = (commands: ReadonlyArray<Command>, argv: ReadonlyArray<string>) => {
  let best: Command | undefined
  for (const c of commands)
    if (c.path.every((p, i) => argv[i] === p) && (!best || c.path.length > best.path.length)) best = c
  return best
}

export interface MainOptions {
  readonly commands?: ReadonlyArray<Command>
}

/** Runs the CLI with these arguments; resolves to the exit code. */
export const main = async (argv: ReadonlyArray<string>, io: Io, options: MainOptions = {}): Promise<number> => {
  const commands = options.commands ?? allCommands
  let connection: Connection | undefined
  const exits: Array<() => Promise<void>> = []
  const fail = (code: number, message: string) => {
    io.stderr.write(`durably: ${redact(message, secretsOf(connection, io.env))}\n`)
    return code
  }
  try {
    if (argv[0] === "--version" || argv[0] === "-v") {
      io.stdout.write(version() + "\n")
      return ExitCode.ok
    }
    const command = find(commands, argv)
    if (!command) {
      const words = argv.filter((a) => !a.startsWith("-"))
      const known = words.filter((w, i) =>
        commands.some((c) => c.path[i] === w && words.slice(0, i).every((p, j) => c.path[j] === p)),
      )
      const asksHelp = argv.includes("--help") || argv.includes("-h")
      if (asksHelp || words.length === 0) {
        const text = groupHelp(commands, known)
        if (asksHelp) {
          io.stdout.write(text)
          return ExitCode.ok
        }
        io.stderr.write(text)
        return ExitCode.usage
      }
      const unknown = words[known.length]
      return fail(
        ExitCode.usage,
        `unknown command ${JSON.stringify([...known, unknown].join(" "))}; see ${usagePath([...known, "--help"])}`,
      )
    }
    const parsed = parse(argv.slice(command.path.length), command.flags ?? {}, command.args ?? [])
    if (parsed.bool("help")) {
      io.stdout.write(commandHelp(command))
      return ExitCode.ok
    }
    const out = makeOutput(io, { json: parsed.bool("json"), noColor: parsed.bool("no-color") })
    const getConnection = () =>
      (connection ??= resolveConnection(
        { url: parsed.string("url"), dir: parsed.string("dir"), schema: parsed.string("schema") },
        io.env,
      ))
    let store: Promise<Store> | undefined
    let client: Promise<DurablyClient> | undefined
    const ctx: CommandContext = {
      parsed,
      out,
      io,
      connection: getConnection,
      store: () =>
        (store ??= openStore(getConnection()).then((s) => {
          exits.push(() => Effect.runPromise(s.close()))
          return s
        })),
      // The client owns its store: closing it closes the store.
      client: () =>
        (client ??= openStore(getConnection()).then(async (s) => {
          try {
            const c = await Durably.client({ store: s, logger: false })
            exits.push(() => c.close())
            return c
          } catch (e) {
            await Effect.runPromise(s.close()).catch(() => undefined)
            throw e
          }
        })),
      onExit: (fn) => exits.push(fn),
    }
    await command.run(ctx)
    return ExitCode.ok
  } catch (e) {
    const { code, message: text } = classify(e)
    const where = connection ? describeConnection(connection, io.env) : undefined
    const message = code === ExitCode.database && where && !text.includes(where) ? `${where}: ${text}` : text
    if (io.env["DURABLY_DEBUG"] && !(e instanceof CliFailure)) io.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`)
    return fail(code, message)
  } finally {
    for (const exit of exits.reverse()) await exit().catch(() => undefined)
  }
}

export { usageError }
