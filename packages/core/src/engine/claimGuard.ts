/**
 * The workflows an engine is bringing up right now: created or claimed in the store, with no execution
 * registered yet. `recover()` takes this executor's own PENDING workflows, and must not take these from
 * under the engine: the claim would bump the epoch, and the execution about to start would be fenced.
 */
export class ClaimGuard {
  private readonly held = new Map<string, number>()

  /** Hold `ids` while `bringUp` runs (creating or claiming them and starting their executions). */
  async hold<A>(ids: ReadonlyArray<string>, bringUp: () => Promise<A>): Promise<A> {
    for (const id of ids) this.held.set(id, (this.held.get(id) ?? 0) + 1)
    try {
      return await bringUp()
    } finally {
      for (const id of ids) {
        const n = (this.held.get(id) ?? 1) - 1
        if (n === 0) this.held.delete(id)
        else this.held.set(id, n)
      }
    }
  }

  get ids(): ReadonlyArray<string> {
    return [...this.held.keys()]
  }
}
