/** `durably dashboard`: serve the web dashboard on this store until interrupted. */
import { serveDashboard } from "@durably/dashboard"
import type { Command } from "../command.ts"
import { describeConnection } from "../connection.ts"
import { usageError } from "../exitCodes.ts"

export const dashboardCommand: Command = {
  path: ["dashboard"],
  summary: "serve the web dashboard (127.0.0.1:4000 by default) until interrupted",
  details:
    "Listening on any address but loopback needs a token (--token, or DURABLY_DASHBOARD_TOKEN): open the\n" +
    "dashboard once as http://host:port/?token=… (it sets a cookie), or send Authorization: Bearer ….",
  flags: {
    host: { type: "string", placeholder: "HOST", description: "address to listen on (default 127.0.0.1)" },
    port: { type: "string", placeholder: "PORT", description: "port (default 4000; 0 picks a free one)" },
    token: {
      type: "string",
      placeholder: "TOKEN",
      description: "require this token (default $DURABLY_DASHBOARD_TOKEN)",
    },
    "read-only": { type: "boolean", description: "hide the actions (cancel, resume, fork, delete) and refuse them" },
  },
  run: async (ctx) => {
    const port = ctx.parsed.string("port") ?? "4000"
    if (!/^\d+$/.test(port) || Number(port) > 65_535) throw usageError(`--port ${JSON.stringify(port)} is not a port`)
    const token = ctx.parsed.string("token") ?? (ctx.io.env["DURABLY_DASHBOARD_TOKEN"] || undefined)
    const host = ctx.parsed.string("host")
    const client = await ctx.client()
    const where = describeConnection(ctx.connection(), ctx.io.env)
    const served = await serveDashboard({
      client,
      port: Number(port),
      ...(host === undefined ? {} : { host }),
      ...(token === undefined ? {} : { token }),
      readOnly: ctx.parsed.bool("read-only"),
      title: where,
    }).catch((e: unknown) => {
      if (e instanceof Error && e.name === "DashboardConfigError") throw usageError(e.message)
      throw e
    })
    ctx.onExit(served.close)
    // Listening for the signals before the banner: whoever reads the banner may stop us at once, and a signal
    // that finds no listener kills the process instead of letting it close the server and exit 0.
    const stopped = new Promise<void>((resolve) => {
      process.once("SIGINT", resolve)
      process.once("SIGTERM", resolve)
    })
    ctx.out.done(`Dashboard for ${where} at ${served.url}${token ? " (open it with ?token=…)" : ""}`, {
      url: served.url,
    })
    await stopped
  },
}
