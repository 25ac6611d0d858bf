/**
 * Contract cases for what `workflows.resume` refuses beyond a workflow's own status: a resume that would
 * break a rule of its queue.
 */
import assert from "node:assert/strict"
import { Durably } from "../Durably.ts"
import { DuplicateEnqueue } from "../errors.ts"
import { queueConfig } from "../queues.ts"
import type { ContractTest } from "./contract.ts"

export const resumeContract: Record<string, ContractTest> = {
  "resume refuses a workflow whose deduplication id another active workflow took meanwhile, with DuplicateEnqueue":
    async (c) => {
      // A queue no dispatcher serves: the workflows stay where the store puts them.
      const queue = c.id("q")
      await c.run(c.store.registerQueue(queueConfig(queue, {}), "v1"))
      const [first, second] = [c.id("first"), c.id("second")]
      const enqueue = async (id: string) => {
        const items = [{ id, name: "task", input: "1", deduplicationId: "order-7" }]
        const r = await c.run(c.store.enqueue({ queue, items, appVersion: "v1" }))
        assert.equal(r._tag, "Enqueued")
        assert.equal(r.outcomes[0]?._tag, "Created", `enqueue ${id}`)
      }
      const client = await Durably.client({ store: c.store, logger: false })
      try {
        await enqueue(first)
        await client.workflows.cancel(first)
        // The id is free once its holder is cancelled, so another workflow takes it.
        await enqueue(second)
        await assert.rejects(client.workflows.resume(first), (e: unknown) => {
          assert.ok(e instanceof DuplicateEnqueue, `expected DuplicateEnqueue, got ${String(e)}`)
          assert.deepEqual([e.queue, e.deduplicationId, e.existingId, e.resumedId], [queue, "order-7", second, first])
          assert.match(e.message, new RegExp(`workflow ${first} cannot be resumed`))
          return true
        })
        const bulk = await client.workflows.resumeMany({ idPrefix: first })
        assert.deepEqual(bulk.ids, [], "resumeMany skips it")
        assert.equal((await client.workflows.get(first)).status, "CANCELLED")
        // Once the holder is gone, the resume goes through.
        await client.workflows.cancel(second)
        await client.workflows.resume(first)
        assert.equal((await client.workflows.get(first)).status, "ENQUEUED")
      } finally {
        await client.close()
      }
    },
}
