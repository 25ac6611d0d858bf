/** What the parked-waits test and its worker (fixtures/parkedWorker.ts) share. */
export interface ParkedWorkerConfig {
  readonly url: string
  readonly schema: string
  readonly ledgerTable: string
  readonly executorId: string
  readonly n: number
  /** Start the workflows (the first launch only). */
  readonly start: boolean
}

export interface ParkedWorkerEvents {
  READY: { readonly pid: number }
  PARKED: { readonly id: string; readonly pid: number }
  DONE: { readonly id: string; readonly pid: number }
  STOPPED: { readonly pid: number }
}

export const inboxId = (i: number) => `parked-inbox-${i}`
export const publisherId = "parked-publisher"
export const readerId = "parked-reader"
export const parentId = "parked-parent"
export const childId = "parked-child"
