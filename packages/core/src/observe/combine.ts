/**
 * Several observers as one. No observer at all is `undefined`, so the engine's hot path tests one field and
 * does nothing else; one observer is used as it is.
 */
import type { ExecutionObserver, Observer, OperationObserver } from "./Observer.ts"

type Run = <A>(fn: () => A) => A

const nest = (runs: ReadonlyArray<Run>): Run | undefined =>
  runs.length === 0
    ? undefined
    : runs.length === 1
      ? runs[0]
      : <A>(fn: () => A): A => runs.reduceRight<() => A>((inner, run) => () => run(inner), fn)()

const present = <A>(xs: ReadonlyArray<A | undefined>): A[] => xs.filter((x): x is A => x !== undefined)

/** Each observer's `key` member, bound to it: an observer may be a class instance, its members methods. */
const membersOf = <T extends object, K extends keyof T>(
  observers: ReadonlyArray<T>,
  key: K,
): Array<NonNullable<T[K]>> =>
  observers.flatMap((o) => {
    const member = o[key] as ((...args: never[]) => unknown) | undefined
    return member === undefined ? [] : [member.bind(o) as NonNullable<T[K]>]
  })

const combineOperations = (ops: ReadonlyArray<OperationObserver>): OperationObserver | undefined => {
  if (ops.length <= 1) return ops[0]
  const run = nest(membersOf(ops, "run"))
  return {
    ...(run ? { run } : {}),
    // Read when asked (the Effect flavour's step bodies only): the first observer that has a span gives it.
    get traceParent() {
      return ops.find((o) => o.traceParent !== undefined)?.traceParent
    },
    end: (end) => ops.forEach((o) => o.end(end)),
  }
}

const combineExecutions = (execs: ReadonlyArray<ExecutionObserver>): ExecutionObserver | undefined => {
  if (execs.length <= 1) return execs[0]
  const run = nest(membersOf(execs, "run"))
  const traceParent = execs.find((e) => e.traceParent !== undefined)?.traceParent
  return {
    ...(run ? { run } : {}),
    ...(traceParent ? { traceParent } : {}),
    operation: (info) => combineOperations(present(execs.map((e) => e.operation?.(info)))),
    waiting: (on) => {
      const resumes = present(execs.map((e) => e.waiting?.(on)))
      return resumes.length === 0 ? undefined : () => resumes.forEach((r) => r())
    },
    end: (end) => execs.forEach((e) => e.end(end)),
  }
}

export const combineObservers = (observers: ReadonlyArray<Observer>): Observer | undefined => {
  if (observers.length <= 1) return observers[0]
  const carriers = membersOf(observers, "carry")
  const executions = membersOf(observers, "execution")
  const events = membersOf(observers, "event")
  const storeCalls = membersOf(observers, "storeCall")
  const launches = membersOf(observers, "launched")
  return {
    // Only one carrier is stored: the first observer that carries anything wins.
    ...(carriers.length === 0
      ? {}
      : {
          carry: () => {
            for (const c of carriers) {
              const text = c()
              if (text !== undefined) return text
            }
            return undefined
          },
        }),
    ...(executions.length === 0
      ? {}
      : { execution: (info) => combineExecutions(present(executions.map((e) => e(info)))) }),
    ...(events.length === 0 ? {} : { event: (e) => events.forEach((f) => f(e)) }),
    ...(launches.length === 0
      ? {}
      : {
          launched: (engine) => {
            const stops = present(launches.map((l) => l(engine)))
            return stops.length === 0 ? undefined : () => stops.forEach((s) => s())
          },
        }),
    ...(storeCalls.length === 0
      ? {}
      : {
          storeCall: () => {
            const ends = present(storeCalls.map((c) => c()))
            return ends.length === 0 ? undefined : () => ends.forEach((e) => e())
          },
        }),
  }
}
