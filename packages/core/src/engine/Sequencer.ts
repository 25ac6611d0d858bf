/**
 * Releases operation results to workflow code one at a time, in completion order.
 *
 * Step ids are reserved synchronously in call order, so concurrent branches only replay identically if their
 * continuations run in the same order as they did live. Live, each operation gets a sequence number when its
 * completion is written, and results are released in that order; the number is stored with the checkpoint and
 * replay releases recorded results in the same order. After each release the sequencer waits for the event
 * loop to turn (the released continuation runs to its next `ctx` call), so nested `Promise.all` branches
 * interleave identically live and on replay.
 */

/** Two macrotask hops: one for Promise continuations, one for Effect fibers (which resume via setImmediate). */
export const afterContinuations = (f: () => void) => setImmediate(() => setImmediate(f))

export class Sequencer {
  /** Recorded completion numbers still to release, ascending. */
  private readonly replay: number[]
  private replayIndex = 0
  /** Numbers handed to live completions and not yet released, ascending. */
  private readonly live: number[] = []
  private nextLive: number
  private readonly waiting = new Map<number, () => void>()
  private busy = false

  constructor(recordedSeqs: ReadonlyArray<number>) {
    this.replay = [...recordedSeqs].sort((a, b) => a - b)
    this.nextLive = this.replay.length === 0 ? 0 : this.replay[this.replay.length - 1]! + 1
  }

  /** True while recorded results remain to be released (the workflow is catching up with its history). */
  get replaying(): boolean {
    return this.replayIndex < this.replay.length
  }

  /** The recorded number the sequencer waits for next, if it is replaying. */
  get replayHead(): number | undefined {
    return this.replay[this.replayIndex]
  }

  /** Number the completion about to be written; results are released in this order. */
  assign(): number {
    const seq = this.nextLive++
    this.live.push(seq)
    return seq
  }

  /** A live completion that will never be released (its write failed): stop holding others behind it. */
  abandon(seq: number): void {
    const i = this.live.indexOf(seq)
    if (i >= 0) this.live.splice(i, 1)
    this.pump()
  }

  /** Resolves when it is `seq`'s turn to be released to workflow code. */
  turn(seq: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve)
      this.pump()
    })
  }

  private head(): number | undefined {
    return this.replayIndex < this.replay.length ? this.replay[this.replayIndex] : this.live[0]
  }

  private pump(): void {
    if (this.busy) return
    const seq = this.head()
    if (seq === undefined) return
    const release = this.waiting.get(seq)
    if (!release) return
    this.waiting.delete(seq)
    if (this.replayIndex < this.replay.length) this.replayIndex++
    else this.live.shift()
    this.busy = true
    release()
    afterContinuations(() => {
      this.busy = false
      this.pump()
    })
  }
}
