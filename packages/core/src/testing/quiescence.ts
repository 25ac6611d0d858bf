/**
 * When a test engine is quiet: nothing can move on except by (virtual) time or by the outside world. Told by
 * the observer seam alone, so the engine carries no test-only path: engine work is an attempt of a store call
 * in flight, an operation from its call until its result has been handed over (and the workflow code it
 * released has run to its next `ctx` call), or a workflow function's first moments. An execution waiting on
 * time (a store call's backoff too) or on the outside world is not engine work; a step body is user work,
 * counted apart.
 */
import { afterContinuations } from "../engine/Sequencer.ts"
import type { Observer, OperationObserver } from "../observe/Observer.ts"

export interface Quiescence {
  readonly observer: Observer
  /** Engine work in flight. */
  readonly busy: () => number
  /** Step bodies running. */
  readonly bodies: () => number
  /** Resolves the next time a step body ends. */
  readonly bodyEnded: () => Promise<void>
}

export const quiescence = (): Quiescence => {
  let busy = 0
  let bodies = 0
  let onBodyEnd: Array<() => void> = []
  const exit = () => void busy--
  // Released code runs within two macrotasks (Promise continuations, then Effect fibers): see Sequencer.
  const exitAfterHandover = () => afterContinuations(exit)

  const whole: OperationObserver = { end: exitAfterHandover }
  const attempt = (): OperationObserver => {
    let inBody = false
    return {
      run: (fn) => {
        busy--
        bodies++
        inBody = true
        return fn()
      },
      // The attempt is over (a timed-out body may still run, but nothing waits for it any more).
      end: () => {
        if (!inBody) return
        inBody = false
        bodies--
        busy++
        const waiting = onBodyEnd
        onBodyEnd = []
        for (const w of waiting) w()
      },
    }
  }

  const observer: Observer = {
    storeCall: () => {
      busy++
      return exit
    },
    execution: () => ({
      run: (fn) => {
        busy++
        afterContinuations(exit)
        return fn()
      },
      operation: (op) => {
        if (op.attempt !== undefined) return attempt()
        busy++
        return whole
      },
      waiting: () => {
        busy--
        return () => void busy++
      },
      end: () => undefined,
    }),
  }
  return {
    observer,
    busy: () => busy,
    bodies: () => bodies,
    bodyEnded: () => new Promise((resolve) => onBodyEnd.push(resolve)),
  }
}
