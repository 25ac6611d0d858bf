/** `durably migrate`: bring Durably's schema up to date (the only command that changes the schema). */
import { Effect } from "effect"
import { migrate, migrations } from "@durably/postgres"
import type { Command } from "../command.ts"
import { describeConnection } from "../connection.ts"

export const migrateCommand: Command = {
  path: ["migrate"],
  summary: "create or upgrade Durably's schema (safe to run while workers run)",
  details:
    "Applies the migrations in order, in one transaction, under an advisory lock, so it is safe while workers\n" +
    "launch. Other commands never change the schema: against an unmigrated database they fail with exit code 5.",
  run: async (ctx) => {
    const c = ctx.connection()
    const where = describeConnection(c, ctx.io.env)
    if (c.kind === "postgres") {
      const { from, to } = await migrate({ ...(c.url ? { url: c.url } : {}), schema: c.schema })
      ctx.out.done(
        from === to ? `${where}: already at version ${to}` : `${where}: migrated from version ${from} to ${to}`,
        { schema: c.schema, from, to },
      )
      return
    }
    // The embedded store applies the migrations when it opens; one read opens it.
    const store = await ctx.store()
    await Effect.runPromise(store.getWorkflow("durably-cli-migrate-probe"))
    const to = migrations().length
    ctx.out.done(`${where}: at version ${to}`, { schema: c.schema, to })
  },
}
