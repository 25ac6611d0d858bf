/** A small seeded PRNG (mulberry32), so a failing fault plan can be replayed with DURABILITY_SEED. */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The seed for this run: DURABILITY_SEED when set (to replay), else a fresh one. Printed either way. */
export const runSeed = (label: string): number => {
  const fromEnv = process.env["DURABILITY_SEED"]
  const seed = fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31)
  if (!Number.isInteger(seed)) throw new Error(`DURABILITY_SEED must be an integer; got ${String(fromEnv)}`)
  console.log(`[${label}] seed ${seed} (replay the fault plan with DURABILITY_SEED=${seed})`)
  return seed
}

/** An integer in [min, max]. */
export const between = (random: () => number, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1))

/** Fisher–Yates, in place. */
export const shuffle = <A>(random: () => number, items: A[]): A[] => {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const tmp = items[i]!
    items[i] = items[j]!
    items[j] = tmp
  }
  return items
}
