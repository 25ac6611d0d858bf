/**
 * Resolves once `check` holds, polling; fails after `ms` saying what it waited for. The bound is generous: the
 * contract suites run on loaded CI machines, and a bound only decides how long a real failure takes to show.
 */
export const until = async (check: () => Promise<boolean> | boolean, what: string, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
