/**
 * The contract every Store must meet, as a test suite. Run it against your store with the test runner's
 * own `describe` and `it` (vitest, jest and node:test all fit):
 *
 * ```ts
 * import { describe, it } from "vitest"
 * storeContract({ name: "memory", makeStore: () => memoryStore(), describe, it })
 * ```
 *
 * It covers every port method, races on one workflow, and engine scenarios on the store: replay after a
 * crash, two engines taking over from each other, attach on duplicate start, cancel from another engine,
 * messages, events and streams between engines, waits that park and are woken through the store, schedules (stored, and fired once by several engines), and a
 * randomized race in which every runnable workflow must start within the documented bound.
 */
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import type { Store } from "../store/Store.ts"
import { engineScenarios } from "./contractEngine.ts"
import { messagesContract } from "./contractMessages.ts"
import { messagesEngineScenarios } from "./contractMessagesEngine.ts"
import { portContract } from "./contractPort.ts"
import { queuesContract } from "./contractQueues.ts"
import { childrenScenarios } from "./contractChildren.ts"
import { livenessScenarios } from "./contractLiveness.ts"
import { racesScenarios } from "./contractRaces.ts"
import { schedulesContract } from "./contractSchedules.ts"
import { debounceContract } from "./contractDebounce.ts"
import { managementContract } from "./contractManagement.ts"
import { placementContract } from "./contractPlacement.ts"
import { queuedHistoryContract } from "./contractQueuedHistory.ts"
import { resumeContract } from "./contractResume.ts"
import { observeContract } from "./contractObserve.ts"
import { parkingScenarios } from "./contractParking.ts"

export interface ContractOptions {
  /** Shown in test names. */
  readonly name: string
  /** A store for one test; the suite closes it at the end of the test. Ids are unique per test. */
  readonly makeStore: () => Store | Promise<Store>
  /**
   * Another store on the same data as `store`, as a second process would open it. Default: `store` itself
   * (right for in-process stores like memory).
   */
  readonly reopen?: (store: Store) => Store | Promise<Store>
  readonly describe: (name: string, body: () => void) => unknown
  readonly it: (name: string, body: () => Promise<void>) => unknown
}

/** What each contract case gets. */
export interface ContractCase {
  readonly store: Store
  /** A fresh id for this test (stores may be shared between tests). */
  readonly id: (suffix?: string) => string
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  /** Builds another store on the same data (a second process); closed with the test. */
  readonly another: () => Promise<Store>
}

export type ContractTest = (c: ContractCase) => Promise<void>

export const storeContract = (options: ContractOptions): void => {
  const caseOf = (body: ContractTest) => async () => {
    const stores: Store[] = []
    const first = await options.makeStore()
    stores.push(first)
    const another = async () => {
      if (!options.reopen) return first
      const s = await options.reopen(first)
      stores.push(s)
      return s
    }
    const prefix = randomUUID().slice(0, 8)
    try {
      await body({
        store: first,
        id: (suffix = "w") => `${prefix}-${suffix}`,
        run: (effect) => Effect.runPromise(effect),
        another,
      })
    } finally {
      for (const s of stores) await Effect.runPromise(s.close())
    }
  }
  options.describe(`Store contract: ${options.name}`, () => {
    for (const [group, tests] of [
      ["port", portContract],
      ["engine", engineScenarios],
      ["messages, events and streams", messagesContract],
      ["messages, events and streams between engines", messagesEngineScenarios],
      ["queues", queuesContract],
      ["child workflows and enqueueing, with engines", childrenScenarios],
      ["liveness, with engines", livenessScenarios],
      ["races, with engines", racesScenarios],
      ["schedules", schedulesContract],
      ["debounce", debounceContract],
      ["management", managementContract],
      ["management: where work stands and runs", placementContract],
      ["management: what resume refuses", resumeContract],
      ["management: queued resumes and forks", queuedHistoryContract],
      ["observers: stored trace context", observeContract],
      ["parked waits, with engines", parkingScenarios],
    ] as const) {
      options.describe(group, () => {
        for (const [name, body] of Object.entries(tests)) options.it(name, caseOf(body))
      })
    }
  })
}

/** Shared helpers for the contract modules. */
export const expectFenced = async (p: Promise<unknown>, status?: string) => {
  await assert.rejects(p, (e: unknown) => {
    assert.equal((e as { _tag?: string })._tag, "FencedError")
    if (status) assert.equal((e as { status?: string }).status, status)
    return true
  })
}
