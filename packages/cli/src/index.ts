/**
 * @durably/cli — the `durably` command. Run it with `npx durably --help`; the programmatic entry runs the
 * same commands with your own streams: `process.exitCode = await main(["workflows", "list"], io)`.
 */
export { main, type MainOptions } from "./main.ts"
export { ExitCode, CliFailure } from "./exitCodes.ts"
export type { Io } from "./output/output.ts"
export { toJson, inline, truncate } from "@durably/dashboard/values"
