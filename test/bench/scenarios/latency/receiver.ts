/**
 * The receiving process of the send→recv latency row: an engine on its own Postgres store with the store's
 * defaults (LISTEN/NOTIFY on, fallback poll 1 s), running one `pinger` workflow that waits in `ctx.recv`
 * for the bench process's `durably.send`. Prints `READY` once the workflow runs, `DONE` when it finished.
 *
 *   node --conditions=@durably/source receiver.ts '{"url":…,"schema":…,"id":…,"count":…}'
 */
import { writeSync } from "node:fs"
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { quietLogger } from "../perStep/common.ts"
import { pinger } from "./common.ts"

export interface ReceiverConfig {
  readonly url: string
  readonly schema: string
  readonly id: string
  readonly count: number
}

const config = JSON.parse(process.argv[2] ?? "") as ReceiverConfig
const say = (line: string) => writeSync(1, `${line}\n`)

const durably = await Durably.launch({
  store: postgresStore({ url: config.url, schema: config.schema }),
  workflows: [pinger],
  executorId: `bench-receiver-${process.pid}`,
  appVersion: "bench",
  logger: quietLogger,
})
const handle = await durably.start(pinger, config.count, { id: config.id })
say(`READY ${process.pid}`)
await handle.result()
await durably.shutdown()
say("DONE")
