/** The dashboard as a Node `(req, res)` handler, and a server of its own for `durably dashboard`. */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { dashboardFetchHandler, type DashboardOptions, type FetchHandler } from "./handler.ts"

const maxBody = 1024 * 1024

const readBody = async (req: IncomingMessage): Promise<Uint8Array | undefined> => {
  if (req.method === "GET" || req.method === "HEAD") return undefined
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > maxBody) throw new Error("request body too large")
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** Adapt a fetch-style handler to Node's http (req, res). */
export const toNodeHandler =
  (handler: FetchHandler) =>
  (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      try {
        const headers = new Headers()
        for (const [k, v] of Object.entries(req.headers))
          if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v)
        const body = await readBody(req)
        const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`)
        const response = await handler(
          new Request(url, { method: req.method ?? "GET", headers, ...(body ? { body } : {}) }),
        )
        res.statusCode = response.status
        response.headers.forEach((v, k) => res.setHeader(k, v))
        res.end(Buffer.from(await response.arrayBuffer()))
      } catch (e) {
        if (!res.headersSent) {
          res.statusCode = 400
          res.setHeader("content-type", "application/json; charset=utf-8")
        }
        res.end(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }))
      }
    })()
  }

/** `http.createServer(dashboardHandler({ … }))`, or `app.use("/ops/durably/", dashboardHandler(…))`. */
export const dashboardHandler = (options: DashboardOptions) => toNodeHandler(dashboardFetchHandler(options))

export interface ServeOptions extends DashboardOptions {
  /** Default 127.0.0.1. Any other address needs a `token`. */
  readonly host?: string
  /** Default 4000; 0 picks a free port. */
  readonly port?: number
}

export interface ServedDashboard {
  /** Where it listens, e.g. http://127.0.0.1:4000/ */
  readonly url: string
  readonly close: () => Promise<void>
}

const isLoopback = (host: string) => host === "localhost" || host === "::1" || /^127\./.test(host)

/** Dashboard configuration a server refuses to start with. */
export class DashboardConfigError extends Error {
  override readonly name = "DashboardConfigError"
}

/** Serve the dashboard on its own port (what `durably dashboard` runs). */
export const serveDashboard = async (options: ServeOptions): Promise<ServedDashboard> => {
  const host = options.host ?? "127.0.0.1"
  const loopback = isLoopback(host)
  if (!loopback && !options.token)
    throw new DashboardConfigError(
      `listening on ${host} (not loopback) needs a token: anyone who reaches it could cancel workflows`,
    )
  const server = createServer(
    dashboardHandler({ ...options, loopbackOnly: options.loopbackOnly ?? (loopback && !options.token) }),
  )
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 4000, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const shownHost = host.includes(":") ? `[${host}]` : host
  return {
    url: `http://${shownHost}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
