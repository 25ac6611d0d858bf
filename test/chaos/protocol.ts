/** How the soak's driver talks to its worker processes: one JSON argument in, `TAG {json}` lines out. */

export interface WorkerConfig {
  readonly url: string
  readonly executorId: string
  readonly heartbeat: { readonly intervalMs: number; readonly leaseMs: number }
}

export interface WorkerEvents {
  READY: { pid: number; executorId: string }
  LOG: { level: string; message: string; workflowId?: string }
  STOPPED: { pid: number }
}
