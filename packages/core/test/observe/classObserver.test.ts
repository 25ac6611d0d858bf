/**
 * Observers written as classes: the engine calls their `run` as methods, so `this` is the observer, whether
 * it is the only observer or one of several.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { describe, expect, it } from "vitest"
import {
  defineWorkflow,
  Durably,
  memoryStore,
  type ExecutionObserver,
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

const scoped = (prefix: string): Observer => ({ execution: (info) => new WorkflowScope(info.workflowName, prefix) })

const seen = defineWorkflow("scopes", async (ctx) => {
  const inWorkflow = scope.getStore()
  const inStep = await ctx.step("look", () => scope.getStore() ?? "none")
  return { inWorkflow, inStep }
})

const runWith = async (observers: ReadonlyArray<Observer>) => {
  const durably = await Durably.launch({ store: memoryStore(), workflows: [seen], observers, logger: false })
  try {
    return await durably.run(seen, undefined)
  } finally {
    await durably.shutdown()
  }
}

describe("an observer written as a class", () => {
  it("alone: the workflow and each step attempt run in its scopes", async () => {
    expect(await runWith([scoped("step")])).toEqual({ inWorkflow: "scopes", inStep: "step look" })
  })

  it("with another observer: both scopes are entered, in the order given", async () => {
    // The second observer's scopes are inside the first's, so they are what the code sees.
    expect(await runWith([scoped("outer"), scoped("inner")])).toEqual({ inWorkflow: "scopes", inStep: "inner look" })
  })
})
