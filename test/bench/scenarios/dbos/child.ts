/**
 * The child process of one DBOS Transact measurement (started by ./parent.ts, never by hand):
 *
 *   node --conditions=@durably/source child.ts '<ChildRequest as JSON>'
 *
 * Only the module of the measurement asked for is loaded, so only its workflows are registered with DBOS.
 * The result (or the failure) goes back over the IPC channel; progress lines go to stdout. The process then
 * ends on its own: DBOS shut down, every pool closed (the parent kills it if it lingers).
 */
import type { ChildReply, ChildRequest } from "./common.ts"

const reply = (message: ChildReply) =>
  new Promise<void>((resolve) => {
    if (!process.send) {
      process.stdout.write(`${JSON.stringify(message)}\n`)
      resolve()
    } else process.send(message, undefined, undefined, () => resolve())
  })

const run = async (request: ChildRequest): Promise<unknown> => {
  switch (request.kind) {
    case "perStep":
      return (await import("./perStep.ts")).measurePerStep(request)
    case "latency":
      return (await import("./latency.ts")).measureLatency(request)
    case "queue":
      return (await import("./queue.ts")).measureQueue(request)
  }
}

try {
  const request = JSON.parse(process.argv[2] ?? "") as ChildRequest
  await reply({ ok: true, result: await run(request) })
} catch (e) {
  await reply(
    e instanceof Error && e.stack ? { ok: false, error: e.message, stack: e.stack } : { ok: false, error: String(e) },
  )
  process.exitCode = 1
} finally {
  if (process.connected) process.disconnect()
}
