/**
 * A by-hand check of the graphile-worker reference (not a test, not part of `pnpm bench`):
 *
 *   cd test/bench && pnpm exec node --conditions=@durably/source scenarios/queue/graphile.check.ts [jobs]
 *
 * DATABASE_URL overrides the server.
 */
import { measureGraphile } from "./graphile.ts"

const url = process.env["DATABASE_URL"] ?? "postgres://root@127.0.0.1:5432/test"
const jobs = Number(process.argv[2] ?? 2000)
const log = (line: string) => process.stdout.write(`${line}\n`)

const result = await measureGraphile(url, { jobs, concurrency: 100, enqueueCount: 500, batchSize: 100, log })
for (const s of [result.enqueueOne, result.enqueueBatch, result.drain])
  log(`${s.label}: ${s.ops} ops in ${s.totalMs.toFixed(1)} ms, ${s.perOpMs.toFixed(4)} ms/op`)
log(JSON.stringify(result.details, null, 2))
