/**
 * A document-indexing job that reports its progress on a stream. The workflow writes to the "progress"
 * stream from its own code (start, and a count after each document) and from inside each step body (what the
 * step did with its document); it closes the stream at the end, which ends every reader's loop.
 *
 * The fake embedding service fails its first call for one document, after the step has already written to
 * the stream. The step is retried; what the failed attempt wrote is never published, because the values a
 * step body writes are published together with the step's result.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { defineWorkflow } from "@durably/core"

export type Progress =
  | { readonly kind: "started"; readonly total: number }
  | { readonly kind: "document"; readonly doc: string; readonly attempt: number; readonly note: string }
  | { readonly kind: "count"; readonly done: number; readonly total: number }

/** A fake embedding service: `flaky` fails on its first call, the others answer after a short delay. */
export const makeEmbedder = (flaky: string) => {
  const calls = new Map<string, number>()
  return {
    calls,
    embed: async (doc: string, signal: AbortSignal) => {
      const n = (calls.get(doc) ?? 0) + 1
      calls.set(doc, n)
      await sleep(150, undefined, { signal })
      if (doc === flaky && n === 1) throw new Error("embedding service: 503 Service Unavailable (simulated)")
      return doc.length * 3 // the number of chunks it made
    },
  }
}

export const makeIndexer = (embedder: ReturnType<typeof makeEmbedder>) =>
  defineWorkflow("index-documents", async (ctx, docs: ReadonlyArray<string>) => {
    const write = (p: Progress) => ctx.writeStream("progress", p)
    await write({ kind: "started", total: docs.length })
    let chunks = 0
    for (const [i, doc] of docs.entries()) {
      chunks += await ctx.step(
        `index ${doc}`,
        async ({ attempt, signal }) => {
          await write({ kind: "document", doc, attempt, note: "split into paragraphs" })
          try {
            const made = await embedder.embed(doc, signal)
            await write({ kind: "document", doc, attempt, note: `embedded ${made} chunks` })
            return made
          } catch (e) {
            ctx.log.info(
              `attempt ${attempt} wrote to the stream, then failed: ${e instanceof Error ? e.message : String(e)}`,
            )
            throw e
          }
        },
        { retry: { maxAttempts: 3, initialDelay: "300 millis" } },
      )
      await write({ kind: "count", done: i + 1, total: docs.length })
    }
    await ctx.closeStream("progress")
    return { documents: docs.length, chunks }
  })
