/**
 * The readers test's vocabulary: the publisher workflow (fixtures/publisherWorker.ts) sets events and writes
 * one stream, "s", from workflow code and from step bodies, paced by "go" messages from the test:
 *
 *   set "started"; write wf-0; recv go
 *   step "flaky" (retried): writes flaky-a<attempt>-0..2, and its first attempt then fails; set "flaky"
 *   step "crashy": writes crashy-<pid>-0..2; in a process told to, it then SIGKILLs itself; set "crashy"
 *   for k = 1..values: recv go; write wf-<k>; set e<k> = k; set "phase" = k
 *   close the stream; set "phase" = "closed"; recv finish; return
 *
 * So a reader must see exactly: wf-0, the second attempt's flaky values, the crashy values of the process
 * that finished that step, wf-1 … wf-<values>, and then the end, while the workflow still runs.
 */

export const STREAM = "s"

export interface PublisherInput {
  readonly values: number
}

export interface PublisherOutput {
  /** The process whose crashy attempt was published. */
  readonly crashyPid: number
  readonly flakyAttempt: number
}

export interface PublisherWorkerConfig {
  readonly url: string
  readonly schema: string
  readonly executorId: string
  readonly id: string
  readonly input: PublisherInput
  /** SIGKILL this process inside the crashy step's body, after it wrote its values. */
  readonly killInCrashy: boolean
}

export interface PublisherEvents {
  readonly READY: { readonly pid: number }
  readonly STARTED: { readonly pid: number }
  readonly FAULT: { readonly pid: number; readonly at: number }
  readonly LOG: { readonly level: string; readonly message: string }
  readonly STOPPED: { readonly pid: number }
}

/** Everything a reader of the stream must see, in order, given which process completed "crashy". */
export const expectedStream = (values: number, crashyPid: number): string[] => [
  "wf-0",
  ...[0, 1, 2].map((j) => `flaky-a2-${j}`),
  ...[0, 1, 2].map((j) => `crashy-${crashyPid}-${j}`),
  ...Array.from({ length: values }, (_, k) => `wf-${k + 1}`),
]
