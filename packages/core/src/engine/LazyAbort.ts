/**
 * An AbortController made only when its signal is first asked for (born aborted if the abort came first):
 * most executions never need some of theirs, and ten thousand waiting workflows hold ten thousand of each.
 */
export class LazyAbort {
  private controller: AbortController | undefined
  private reason: { readonly value: unknown } | undefined

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController()
      if (this.reason) this.controller.abort(this.reason.value)
    }
    return this.controller.signal
  }

  abort(reason: unknown): void {
    if (this.reason) return
    this.reason = { value: reason }
    this.controller?.abort(reason)
  }
}
