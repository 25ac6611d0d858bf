/**
 * The workflow every durability test runs: a chain of steps, each one's value computed from the previous
 * one's, so the final output proves every step result was handed to the next exactly as recorded.
 */

/** The input of workflow `id`: derived from the id, so the test can compute the expected outputs. */
export const seedOf = (id: string): number => {
  let h = 17
  for (const ch of id) h = (h * 131 + ch.charCodeAt(0)) % 1_000_003
  return h
}

/** The value step `index` returns, given the previous step's value (the seed for step 0). */
export const nextValue = (previous: number, index: number): number => (previous * 31 + index * 7 + 11) % 1_000_003

/** The value of every step of workflow `id`, in order; the last one is the workflow's output. */
export const expectedValues = (id: string, steps: number): number[] => {
  const values: number[] = []
  let v = seedOf(id)
  for (let i = 0; i < steps; i++) values.push((v = nextValue(v, i)))
  return values
}

export const stepName = (index: number): string => `s${index}`

/** What a step returns (and its checkpoint holds): the value, and the process that ran the body. */
export interface StepResult {
  readonly v: number
  readonly pid: number
}

/** What the workflow returns: the last value, and the process that ran it to its end. */
export interface ChainOutput {
  readonly v: number
  readonly pid: number
}

export interface ChainInput {
  readonly seed: number
  readonly steps: number
}
