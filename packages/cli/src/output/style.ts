/** Colour, only where a person reads it: a TTY, without NO_COLOR or --no-color. */
export interface Style {
  readonly enabled: boolean
  readonly bold: (s: string) => string
  readonly dim: (s: string) => string
  readonly status: (status: string) => string
}

const sgr = (code: number) => (s: string) => `\u001b[${code}m${s}\u001b[0m`

const statusColour: Record<string, number> = {
  SUCCESS: 32,
  ERROR: 31,
  DEAD: 35,
  CANCELLED: 33,
  PENDING: 36,
  ENQUEUED: 34,
  DELAYED: 34,
}

export const makeStyle = (enabled: boolean): Style =>
  enabled
    ? {
        enabled,
        bold: sgr(1),
        dim: sgr(2),
        status: (s) => (statusColour[s] ? sgr(statusColour[s])(s) : s),
      }
    : { enabled, bold: (s) => s, dim: (s) => s, status: (s) => s }

/** Whether to colour a stream: a TTY, unless NO_COLOR is set or `--no-color` was given. */
export const colourWanted = (
  stream: { readonly isTTY?: boolean },
  env: NodeJS.ProcessEnv,
  noColorFlag: boolean,
): boolean => !noColorFlag && !("NO_COLOR" in env && env["NO_COLOR"] !== "") && stream.isTTY === true
