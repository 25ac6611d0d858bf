/**
 * libpq (psql, most drivers) reads a connection's user, password, database, host and port from the URL's query
 * as well as from its parts (`postgres://h/db?user=app&password=…`). postgres.js reads only the parts and sends
 * every query parameter it does not know to the server as a setting, which refuses `password` ("unrecognized
 * configuration parameter"). These are moved into postgres.js's own options; the rest of the query stays.
 */
export interface UrlConnectionOptions {
  readonly user?: string
  readonly pass?: string
  readonly database?: string
  readonly host?: string
  readonly port?: number
}

const asOption: Record<string, keyof UrlConnectionOptions> = {
  user: "user",
  password: "pass",
  dbname: "database",
  host: "host",
  port: "port",
}

/** The URL without libpq's connection parameters, and those parameters as postgres.js options. */
export const libpqQueryParameters = (url: string): { readonly url: string; readonly options: UrlConnectionOptions } => {
  const at = url.indexOf("?")
  if (at < 0) return { url, options: {} }
  const query = new URLSearchParams(url.slice(at + 1))
  const options: Record<string, string | number> = {}
  for (const [param, option] of Object.entries(asOption)) {
    const value = query.get(param)
    if (value === null) continue
    options[option] = option === "port" ? Number(value) : value
    query.delete(param)
  }
  const rest = query.toString()
  return { url: url.slice(0, at) + (rest ? `?${rest}` : ""), options }
}
