/**
 * Ownership without a control plane. The executor heartbeats in the store; it takes over the PENDING
 * workflows of executors whose lease expired (judged by the store's clock), and, while its own heartbeat is
 * failing, it starts no new step body, so a paused or cut-off process cannot run side effects after its
 * workflows may have been taken over.
 */
import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import type { Store } from "../store/Store.ts"
import type { LogSink } from "./log.ts"

export interface LeaseConfig {
  readonly store: Store
  readonly executorId: string
  readonly appVersion: string
  readonly intervalMs: number
  readonly leaseMs: number
  readonly log: LogSink
  readonly now: () => number
  readonly runEffect: <A, E>(effect: Effect.Effect<A, E>, signal?: AbortSignal) => Promise<A>
  /**
   * Called on each healthy beat: the engine looks for work to take over. `judgeLeases` is false during the
   * grace period (one lease from the first healthy beat), when only workflows nobody owns may be taken.
   */
  readonly onHealthy: (judgeLeases: boolean) => Promise<void>
  /**
   * Called when a heartbeat succeeds after the lease had lapsed (the process was paused or cut off), before
   * the step gate reopens: the engine stops executions whose workflows were taken over meanwhile.
   */
  readonly onLapse: (generation: number) => Promise<void>
}

export class Lease {
  readonly nonce = randomUUID()
  private lastOk: number | undefined
  private healthySince: number | undefined
  private beats = 0
  private waiting: Array<() => void> = []
  private readonly stop = new AbortController()
  private readonly config: LeaseConfig
  private lastDuplicateWarning = -Infinity
  private lapses = 0

  constructor(config: LeaseConfig) {
    this.config = config
  }

  /**
   * How many lapses this executor has been through: ownership confirmed under an older generation must be
   * confirmed again before a step body starts (see ownership.ts).
   */
  get generation(): number {
    return this.lapses
  }

  /** First heartbeat: fails the launch if the store cannot be reached. */
  async begin(): Promise<void> {
    await this.beat(true)
    void this.loop()
  }

  private async loop() {
    const { runEffect, intervalMs, leaseMs, now } = this.config
    while (!this.stop.signal.aborted) {
      try {
        await runEffect(Effect.sleep(intervalMs), this.stop.signal)
      } catch {
        return
      }
      if (this.stop.signal.aborted) return
      await this.beat(false)
      // After our own outage every other lease looks expired: wait one lease before judging anyone dead. Work
      // nobody owns (released at a shutdown, resumed or forked by a client) needs no judging: taken at once.
      if (this.healthySince !== undefined) {
        await this.config.onHealthy(now() - this.healthySince >= leaseMs).catch((e: unknown) =>
          this.config.log({
            level: "warn",
            message: `taking over expired executors' workflows failed: ${String(e)}`,
          }),
        )
      }
    }
  }

  private async beat(first: boolean) {
    const { store, executorId, appVersion, leaseMs, runEffect, now, log } = this.config
    // The store measures the lease from when the heartbeat ran; count from when it was sent, to be safe.
    const sentAt = now()
    try {
      const beat = store.heartbeat({ executorId, appVersion, nonce: this.nonce, leaseMs })
      // Later heartbeats that do not answer within the lease have failed: a hung connection must not stall the
      // loop (interrupting the call lets the store drop that connection). The first one, at launch, may be slow.
      const result = await runEffect(
        first
          ? beat
          : Effect.timeoutOrElse(beat, {
              duration: leaseMs,
              orElse: () => Effect.fail(new Error(`no answer within the lease (${leaseMs} ms)`)),
            }),
      )
      // Judged by when the answer arrived: a beat in flight across a pause (sent before it, answered after)
      // does not hide the silence.
      const lapsed = this.lastOk !== undefined && now() - this.lastOk > leaseMs
      // Others may have taken our workflows while we were silent: find out before any step starts again. The
      // check is bounded like the beat itself: a read that never answers must not stop the heartbeats, which
      // alone reopen the gate. Unanswered, the beat counts as failed and the next one checks again.
      if (lapsed) {
        const generation = ++this.lapses
        await runEffect(
          Effect.timeoutOrElse(Effect.tryPromise({ try: () => this.config.onLapse(generation), catch: (e) => e }), {
            duration: leaseMs,
            orElse: () =>
              Effect.fail(new Error(`the check after a lapse did not answer within the lease (${leaseMs} ms)`)),
          }),
        )
      }
      const at = sentAt
      this.lastOk = at
      this.healthySince ??= at
      this.beats++
      if (result.previousNonce !== undefined && !first && at - this.lastDuplicateWarning > 60_000) {
        this.lastDuplicateWarning = at
        log({
          level: "error",
          message: `another live process is using executor id ${JSON.stringify(executorId)}: give every process its own executorId, or they will fence each other's work`,
        })
      }
      for (const w of this.waiting.splice(0)) w()
    } catch (e) {
      if (first) throw e
      this.healthySince = undefined
      log({ level: "warn", message: `heartbeat failed; no new step starts until one succeeds: ${String(e)}` })
      if (this.lastOk !== undefined && now() - this.lastOk > leaseMs) this.healthySince = undefined
    }
  }

  /** Whether step bodies may start right now: the last successful heartbeat is within the lease. */
  held(): boolean {
    return this.lastOk !== undefined && this.config.now() - this.lastOk <= this.config.leaseMs
  }

  /** Resolves when step bodies may start. */
  gate(): Promise<void> {
    if (this.held()) return Promise.resolve()
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  /** Stop heartbeating; with `remove`, tell the store this executor is gone (graceful shutdown). */
  async end(remove: boolean): Promise<void> {
    this.stop.abort()
    for (const w of this.waiting.splice(0)) w()
    if (remove) await this.config.runEffect(this.config.store.removeExecutor(this.config.executorId, this.nonce))
  }
}
