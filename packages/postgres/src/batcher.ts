/**
 * Group commit for one kind of write: while a batch is in flight, new requests wait and go together in the
 * next one. Under load each round trip (and each commit) carries many requests; alone, a request goes at
 * once. Completions use it because a transaction that sends NOTIFY holds a server-wide lock from its commit
 * until the commit is flushed, so one NOTIFY per completion would make every completion wait its turn.
 */
export interface Batcher<I, O> {
  readonly submit: (item: I) => Promise<O>
}

export const makeBatcher = <I, O>(
  run: (items: ReadonlyArray<I>) => Promise<ReadonlyArray<O>>,
  maxBatch = 500,
): Batcher<I, O> => {
  let waiting: Array<{ readonly item: I; readonly resolve: (o: O) => void; readonly reject: (e: unknown) => void }> = []
  let inFlight = false

  const flush = () => {
    if (inFlight || waiting.length === 0) return
    const batch = waiting.slice(0, maxBatch)
    waiting = waiting.slice(batch.length)
    inFlight = true
    run(batch.map((w) => w.item))
      .then(
        (outs) => batch.forEach((w, i) => w.resolve(outs[i]!)),
        (e: unknown) => batch.forEach((w) => w.reject(e)),
      )
      .finally(() => {
        inFlight = false
        flush()
      })
  }

  return {
    submit: (item) =>
      new Promise<O>((resolve, reject) => {
        waiting.push({ item, resolve, reject })
        flush()
      }),
  }
}
