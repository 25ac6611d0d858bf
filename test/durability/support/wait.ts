/** Waiting on conditions, never on time: poll until the probe answers, or fail saying what is missing. */

export interface WaitOptions {
  /** Give up after this long. Default 60 s. */
  readonly timeoutMs?: number
  /** Poll this often. Default 50 ms. */
  readonly intervalMs?: number
  /** What to say on timeout about the current state (what is missing). */
  readonly detail?: () => string | Promise<string>
}

/** Resolve with the probe's first truthy answer; throw after `timeoutMs` with `what` and the detail. */
export const waitFor = async <A>(
  what: string,
  probe: () => A | undefined | null | false | Promise<A | undefined | null | false>,
  options: WaitOptions = {},
): Promise<A> => {
  const timeoutMs = options.timeoutMs ?? 60_000
  const intervalMs = options.intervalMs ?? 50
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const answer = await probe()
    if (answer !== undefined && answer !== null && answer !== false) return answer
    if (Date.now() > deadline) {
      const detail = options.detail ? await options.detail() : ""
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${detail ? `: ${detail}` : ""}`)
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
