/**
 * Retry plans: when the next attempt of a failed step is due, if at all. A policy object is turned into the
 * delays it describes; an Effect Schedule is stepped with each attempt's error. Plans are rebuilt after a
 * recovery from the recorded attempts, so a crash does not reset the count.
 */
import { Duration, Effect, Result, Schedule } from "effect"
import { maxDurationMs, toMillis } from "../duration.ts"
import { InvalidArgument } from "../errors.ts"
import type { RetryPolicy } from "../workflow.ts"

export interface RetryPlan {
  /** Milliseconds to wait before attempt `attempt + 1`, or undefined to give up after `attempt`. */
  readonly delayAfter: (attempt: number, error: unknown) => Promise<number | undefined>
}

export const noRetry: RetryPlan = { delayAfter: () => Promise.resolve(undefined) }

export const retryPlan = (
  retry: RetryPolicy | Schedule.Schedule<unknown, any> | undefined,
  step: string,
  runEffect: <A, E>(e: Effect.Effect<A, E>) => Promise<A>,
  random: () => number,
  now: () => number,
): RetryPlan => {
  if (retry === undefined) return noRetry
  if (Schedule.isSchedule(retry)) return schedulePlan(retry, runEffect, now)
  return policyPlan(retry, step, random)
}

const policyPlan = (p: RetryPolicy, step: string, random: () => number): RetryPlan => {
  const what = `step "${step}" retry`
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1)
    throw new InvalidArgument({
      reason: `${what}: maxAttempts must be a whole number ≥ 1; got ${String(p.maxAttempts)}`,
    })
  const initial = toMillis(p.initialDelay ?? "1 second", `${what}.initialDelay`)
  const max = toMillis(p.maxDelay ?? "1 hour", `${what}.maxDelay`)
  const backoff = p.backoff ?? 2
  if (!(backoff >= 1) || !Number.isFinite(backoff))
    throw new InvalidArgument({ reason: `${what}: backoff must be a number ≥ 1; got ${String(p.backoff)}` })
  const jitter = p.jitter === true ? 0.2 : p.jitter === false || p.jitter === undefined ? 0 : p.jitter
  if (!(jitter >= 0 && jitter <= 1))
    throw new InvalidArgument({ reason: `${what}: jitter must be between 0 and 1; got ${String(p.jitter)}` })
  return {
    delayAfter: (attempt) => {
      if (attempt >= p.maxAttempts) return Promise.resolve(undefined)
      const base = Math.min(max, initial * backoff ** (attempt - 1))
      const spread = jitter === 0 ? 1 : 1 + jitter * (2 * random() - 1)
      return Promise.resolve(Math.max(0, Math.round(base * spread)))
    },
  }
}

const schedulePlan = (
  schedule: Schedule.Schedule<unknown, unknown>,
  runEffect: <A, E>(e: Effect.Effect<A, E>) => Promise<A>,
  now: () => number,
): RetryPlan => {
  let stepper: ((now: number, input: unknown) => Effect.Effect<[unknown, Duration.Duration], unknown>) | undefined
  let stepped = 0
  return {
    delayAfter: async (attempt, error) => {
      stepper ??= (await runEffect(Schedule.toStep(schedule))) as unknown as typeof stepper
      // After a recovery the schedule starts fresh: step it through the attempts it has not seen (their errors
      // are not replayed into it; the latest one stands in for them).
      let result: Result.Result<[unknown, Duration.Duration], unknown> | undefined
      while (stepped < attempt) {
        stepped++
        result = await runEffect(Effect.result(stepper!(now(), error)))
        if (Result.isFailure(result)) return undefined
      }
      if (!result || !Result.isSuccess(result)) return undefined
      // A schedule may ask for any delay (Duration.infinity even): the store keeps whole milliseconds.
      const ms = Duration.toMillis(result.success[1])
      return Number.isNaN(ms) ? 0 : Math.min(maxDurationMs, Math.ceil(Math.max(0, ms)))
    },
  }
}
