/**
 * The wake-up registry against a scripted LISTEN source and fingerprint reader, for what a real server makes
 * hard to time: the catch-up pass after LISTEN comes back failing because the pool's other connections are
 * still dead.
 */
import { describe, expect, it } from "vitest"
import type { Wake } from "@durably/core"
import { makeWakeups, type ListenHandlers, type WakeParts } from "../src/wakeups.ts"

const stream: Wake = { kind: "stream", workflowId: "wf-1", key: "values" }

/** A LISTEN source whose up/down the test drives, and a fingerprint reader that fails while told to. */
const scripted = () => {
  let handlers: ListenHandlers | undefined
  const state = { failing: false, fetches: 0, fingerprint: null as string | null }
  const wakeups = makeWakeups({
    pollMs: 20,
    listen: {
      start: (h) => {
        handlers = h
      },
      close: async () => undefined,
    },
    fetch: async (keys: ReadonlyArray<WakeParts>) => {
      state.fetches++
      if (state.failing) throw new Error("connection closed")
      return keys.map(() => state.fingerprint)
    },
  })
  return { wakeups, state, listen: () => handlers! }
}

const until = async (condition: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe("wake-ups", () => {
  it("a catch-up pass that fails when LISTEN comes back is tried again, and wakes what changed meanwhile", async () => {
    const { wakeups, state, listen } = scripted()
    let wakes = 0
    const unsubscribe = wakeups.subscribe(stream, () => wakes++)
    listen().up()
    await until(() => state.fetches === 1, "the first catch-up")
    // The connection drops; a value is written while nobody listens; LISTEN is back before any poll ran,
    // but the pool's connections are still dead, so the catch-up's read fails.
    state.failing = true
    listen().down()
    state.fingerprint = "1"
    listen().up()
    await until(() => state.fetches >= 2, "the catch-up after up")
    expect(wakes).toBe(0)
    state.failing = false
    await until(() => wakes === 1, "the retried catch-up to wake the subscriber")
    unsubscribe()
    await wakeups.close()
  })

  it("while listening and caught up, nothing is polled", async () => {
    const { wakeups, state, listen } = scripted()
    const unsubscribe = wakeups.subscribe(stream, () => undefined)
    listen().up()
    await until(() => state.fetches === 1, "the first catch-up")
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(state.fetches).toBe(1)
    unsubscribe()
    await wakeups.close()
  })
})
