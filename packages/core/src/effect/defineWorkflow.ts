/** Effect-flavour workflow definitions: `run` returns an Effect, and gets the Effect ctx. */
import { Effect, Tracer } from "effect"
import { InvalidArgument } from "../errors.ts"
import { makeDefinition, type Codec, type WorkflowDefinition } from "../workflow.ts"
import { makeEffectContext } from "./context.ts"
import { WorkflowCtx, type EffectWorkflowContext } from "./WorkflowCtx.ts"

/** The options form of the Effect `defineWorkflow`: a name, optional schemas, and `run`. */
export interface EffectWorkflowOptions<I, O, E, R> {
  readonly name: string
  /** Validates and encodes the input; the input type is inferred from it. */
  readonly input?: Codec<I>
  readonly output?: Codec<O>
  /**
   * The workflow's typed failure (e.g. a `Schema.TaggedError` class): callers in any process get it back as the
   * same class, in the error channel of `handle.result`. A failure it does not describe reaches callers as
   * `WorkflowFailed`, as does every failure when no schema is given.
   */
  readonly error?: Codec<E>
  readonly run: (ctx: EffectWorkflowContext, input: I) => Effect.Effect<O, unknown, R>
}

/**
 * Define an Effect workflow: `defineWorkflow("greet", (ctx, name: string) => Effect.gen(…))`, or with schemas
 * `defineWorkflow({ name, input, output, error, run })`. The services it needs (other than `WorkflowCtx`, which
 * the engine provides) must be provided to `Durably.layer`.
 */
export function defineWorkflow<I, O, R = never, E = never>(
  options: EffectWorkflowOptions<I, O, E, R>,
): WorkflowDefinition<I, O, E, Exclude<R, WorkflowCtx>>
export function defineWorkflow<I, O, R = never>(
  name: string,
  run: (ctx: EffectWorkflowContext, input: I) => Effect.Effect<O, unknown, R>,
): WorkflowDefinition<I, O, never, Exclude<R, WorkflowCtx>>
export function defineWorkflow(
  nameOrOptions: string | EffectWorkflowOptions<unknown, unknown, unknown, unknown>,
  run?: (ctx: EffectWorkflowContext, input: unknown) => Effect.Effect<unknown, unknown, unknown>,
): WorkflowDefinition<unknown, unknown, unknown, unknown> {
  const options = typeof nameOrOptions === "string" ? { name: nameOrOptions, run } : nameOrOptions
  const fn = options.run
  if (typeof fn !== "function")
    throw new InvalidArgument({ reason: `defineWorkflow(${JSON.stringify(options.name)}): run must be a function` })
  return makeDefinition("effect", options, (api, input) => {
    const ctx = makeEffectContext(api.execution)
    const parent = api.execution.observed?.traceParent
    const body = Effect.suspend(() => fn(ctx, input)).pipe(Effect.provideService(WorkflowCtx, ctx))
    // Effect's own spans (Effect.withSpan) in the workflow join the trace, under the execution's span.
    const program = parent ? Effect.withParentSpan(body, Tracer.externalSpan(parent)) : body
    // A stop (cancel, crash, shutdown, fencing) interrupts the workflow fiber at once, running its finalizers.
    return api.runEffect(program, api.execution.waitSignal)
  })
}
