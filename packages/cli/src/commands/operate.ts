/** `durably queues` and `durably executors`: the work on each queue, and who runs it. */
import { describeQueueLimits } from "@durably/core"
import type { Command } from "../command.ts"

export const queuesCommand: Command = {
  path: ["queues"],
  summary: "each queue (and partition): waiting, delayed and running workflows, and its limits",
  run: async (ctx) => {
    const queues = await (await ctx.client()).queues.list()
    ctx.out.list(queues, [
      { header: "QUEUE", get: (q) => q.name },
      { header: "PARTITION", get: (q) => q.partitionKey },
      { header: "WAITING", get: (q) => q.enqueued },
      { header: "DELAYED", get: (q) => q.delayed },
      { header: "RUNNING", get: (q) => q.running },
      { header: "LIMITS", get: (q) => describeQueueLimits(q.settings), max: 80 },
    ])
  },
}

export const executorsCommand: Command = {
  path: ["executors"],
  summary: "executors: app version, last heartbeat, workflows owned; and work no live executor can run",
  run: async (ctx) => {
    const client = await ctx.client()
    const executors = await client.executors.list()
    const stranded = await client.workflows.stranded()
    if (ctx.out.json) {
      ctx.out.done("", { executors, stranded })
      return
    }
    ctx.out.list(executors, [
      { header: "EXECUTOR", get: (e) => e.executorId },
      { header: "APP VERSION", get: (e) => e.appVersion },
      { header: "LAST HEARTBEAT", get: (e) => e.lastHeartbeat },
      { header: "ALIVE", get: (e) => (e.alive ? "yes" : "no") },
      { header: "OWNS", get: (e) => e.workflowsOwned },
    ])
    for (const s of stranded)
      ctx.io.stdout.write(
        `\n${s.count} PENDING workflows of app version ${s.appVersion} have no live executor ` +
          `(see: durably workflows list --status PENDING --app-version ${s.appVersion}; resume --to-version moves them)\n`,
      )
  },
}
