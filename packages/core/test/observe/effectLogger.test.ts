import { Effect, Layer, Logger, References } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore } from "../../src/effect.ts"

describe("lifecycle logs in the Effect flavour", () => {
  it("go through Effect's Logger by default, with the entry's tags and fields as annotations", async () => {
    const lines: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
    const capture = Logger.make((o) =>
      lines.push({
        level: o.logLevel,
        message: o.message,
        annotations: { ...o.fiber.getRef(References.CurrentLogAnnotations) },
      }),
    )
    const wf = defineWorkflow("refund", (_ctx, amount: number) =>
      amount > 0 ? Effect.succeed(amount) : Effect.die(new RangeError("amount must be positive")),
    )
    await Effect.runPromise(
      Effect.gen(function* () {
        const durably = yield* Durably
        const h = yield* durably.start(wf, -5, { id: "refund-1" })
        yield* Effect.exit(h.result)
      }).pipe(
        Effect.provide(
          Durably.layer({ store: memoryStore(), workflows: [wf], appVersion: "3" }).pipe(
            Layer.provide(Logger.layer([capture])),
            // Debug entries (started, completed) too: the layer's context decides the minimum level.
            Layer.provide(Layer.succeed(References.MinimumLogLevel, "Debug")),
          ),
        ),
      ),
    )
    const failed = lines.find((l) => l.annotations["event"] === "workflow.failed")
    expect(failed).toEqual({
      level: "Warn",
      message: ["workflow failed: RangeError: amount must be positive"],
      annotations: {
        event: "workflow.failed",
        workflowId: "refund-1",
        workflowName: "refund",
        executorId: "local",
        appVersion: "3",
        errorName: "RangeError",
        errorMessage: "amount must be positive",
      },
    })
    expect(lines.find((l) => l.annotations["event"] === "workflow.started")?.level).toBe("Debug")
  })
})
