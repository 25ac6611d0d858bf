/** The queue and the one-step workflow of the scaling scenario (as in ../queue: input { i }, returns i). */
import { defineWorkflow } from "@durably/core"
import { defineQueue } from "@durably/scheduler"

export const QUEUE = "bench-scaling"

/** Each process runs at most `workerConcurrency` of the queue at once. */
export const benchQueue = (workerConcurrency: number) => defineQueue(QUEUE, { workerConcurrency })

export const hooks = {
  onStep: (_i: number): void => undefined,
}

export const oneStep = defineWorkflow("bench-scaling-task", async (ctx, input: { i: number }) =>
  ctx.step("work", () => {
    hooks.onStep(input.i)
    return input.i
  }),
)
