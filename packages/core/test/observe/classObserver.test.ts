/**
 * Observers written as classes: the engine calls every member as a method (`carry`, `execution`, `storeCall`,
 * the scopes' `run` …), so `this` is the observer, whether it is the only observer or one of several.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { describe, expect, it } from "vitest"
import {
  defineWorkflow,
  Durably,
  memoryStore,
  type ExecutionInfo,
  type ExecutionObserver,
  type LaunchedEngine,
  type Observer,
  type OperationInfo,
  type OperationObserver,
} from "../../src/index.ts"

const scope = new AsyncLocalStorage<string>()

class StepScope implements OperationObserver {
  readonly label: string
  constructor(label: string) {
    this.label = label
  }
  run<A>(fn: () => A): A {
    return scope.run(this.label, fn)
  }
  end(): void {}
}

class WorkflowScope implements ExecutionObserver {
  readonly label: string
  readonly prefix: string
  constructor(label: string, prefix: string) {
    this.label = label
    this.prefix = prefix
  }
  run<A>(fn: () => A): A {
    return scope.run(this.label, fn)
  }
  operation(op: OperationInfo): OperationObserver | undefined {
    return op.attempt === undefined ? undefined : new StepScope(`${this.prefix} ${op.name}`)
  }
  end(): void {}
}

class ScopeObserver implements Observer {
  readonly prefix: string
  storeCalls = 0
  launchedBy: string[] = []
  carried: Array<string | undefined> = []
  constructor(prefix: string) {
    this.prefix = prefix
  }
  carry(): string {
    return `carried by ${this.prefix}`
  }
  execution(info: ExecutionInfo): ExecutionObserver {
    this.carried.push(info.carried)
    return new WorkflowScope(info.workflowName, this.prefix)
  }
  launched(engine: LaunchedEngine): undefined {
    this.launchedBy.push(engine.executorId)
    return undefined
  }
  storeCall(): () => void {
    this.storeCalls++
    return () => undefined
  }
}

const seen = defineWorkflow("scopes", async (ctx) => {
  const inWorkflow = scope.getStore()
  const inStep = await ctx.step("look", () => scope.getStore() ?? "none")
  return { inWorkflow, inStep }
})

const runWith = async (observers: ReadonlyArray<ScopeObserver>) => {
  const durably = await Durably.launch({
    store: memoryStore(),
    workflows: [seen],
    observers,
    logger: false,
    executorId: "classy",
  })
  try {
    return await durably.run(seen, undefined)
  } finally {
    await durably.shutdown()
  }
}

describe("an observer written as a class", () => {
  it("alone: the workflow and each step attempt run in its scopes; it carries context and sees store calls", async () => {
    const o = new ScopeObserver("step")
    expect(await runWith([o])).toEqual({ inWorkflow: "scopes", inStep: "step look" })
    expect(o.carried).toEqual(["carried by step"])
    expect(o.storeCalls).toBeGreaterThan(0)
    expect(o.launchedBy).toEqual(["classy"])
  })

  it("with another observer: both scopes are entered, in the order given; the first carrier wins", async () => {
    const outer = new ScopeObserver("outer")
    const inner = new ScopeObserver("inner")
    // The second observer's scopes are inside the first's, so they are what the code sees.
    expect(await runWith([outer, inner])).toEqual({ inWorkflow: "scopes", inStep: "inner look" })
    expect(outer.carried).toEqual(["carried by outer"])
    expect(inner.carried).toEqual(["carried by outer"])
    expect(outer.storeCalls).toBe(inner.storeCalls)
    expect(inner.storeCalls).toBeGreaterThan(0)
    expect([outer.launchedBy, inner.launchedBy]).toEqual([["classy"], ["classy"]])
  })
})
