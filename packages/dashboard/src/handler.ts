/**
 * The dashboard as one Web `Request → Response` function: the static UI, and the JSON API under /api/.
 * `toNodeHandler` adapts it to a Node `(req, res)` handler, so an app can mount it on its own server.
 */
import { apiRoute, type DashboardClient } from "./api.ts"
import { assets } from "./assets.ts"
import { guard, tokenCookie } from "./guard.ts"
import { errorResponse, HttpError, json } from "./http.ts"

export interface DashboardOptions {
  /** What it reads and acts through: a `Durably.client({ store })`, or a running engine. */
  readonly client: DashboardClient
  /** Hide the actions (cancel, resume, fork …) and refuse them in the API. Default false. */
  readonly readOnly?: boolean
  /**
   * Require this token: `Authorization: Bearer <token>`, or open the dashboard once as `/?token=<token>`
   * (which sets a cookie). Leave it out when your own server authenticates requests before they get here.
   */
  readonly token?: string
  /**
   * Answer only requests addressed to a loopback host name (127.0.0.1, localhost, [::1]), which defeats DNS
   * rebinding. `serveDashboard` turns it on when it listens on loopback without a token. Default false.
   */
  readonly loopbackOnly?: boolean
  /** Shown in the header, e.g. which database this is. */
  readonly title?: string
}

export type FetchHandler = (request: Request) => Promise<Response>

const securityHeaders = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
}

const withHeaders = (response: Response): Response => {
  for (const [k, v] of Object.entries(securityHeaders)) response.headers.set(k, v)
  return response
}

/** The dashboard's request handler. */
export const dashboardFetchHandler = (options: DashboardOptions): FetchHandler => {
  const readOnly = options.readOnly ?? false
  return async (request) => {
    const url = new URL(request.url)
    // Mounted under a prefix (e.g. /ops/durably): the UI uses relative URLs, so only the tail matters here.
    const path = url.pathname
    if (options.token !== undefined && request.method === "GET" && url.searchParams.get("token") === options.token) {
      url.searchParams.delete("token")
      return withHeaders(
        new Response(null, {
          status: 303,
          headers: {
            location: url.pathname + url.search,
            "set-cookie": `${tokenCookie}=${encodeURIComponent(options.token)}; HttpOnly; SameSite=Strict; Path=/`,
          },
        }),
      )
    }
    const allowed = guard(request, options.token, options.loopbackOnly ?? false)
    if (!allowed.ok) return withHeaders(errorResponse(allowed.status, allowed.error))
    try {
      const api = path.indexOf("/api/")
      if (api >= 0) return withHeaders(await route(request, path.slice(api + "/api".length), { readOnly, options }))
      const file = assets().get(path.endsWith("/") ? "/index.html" : path.slice(path.lastIndexOf("/")))
      if (!file || request.method !== "GET") return withHeaders(new Response("not found", { status: 404 }))
      return withHeaders(
        new Response(file.body, { headers: { "content-type": file.type, "cache-control": "no-cache" } }),
      )
    } catch (e) {
      if (e instanceof HttpError) return withHeaders(errorResponse(e.status, e.message))
      const message = e instanceof Error ? e.message : String(e)
      return withHeaders(errorResponse(500, message))
    }
  }
}

interface RouteContext {
  readonly readOnly: boolean
  readonly options: DashboardOptions
}

const route = async (request: Request, path: string, ctx: RouteContext): Promise<Response> => {
  if (path === "/info" && request.method === "GET")
    return json({ readOnly: ctx.readOnly, title: ctx.options.title ?? "Durably" })
  return apiRoute(request, path, { client: ctx.options.client, readOnly: ctx.readOnly })
}
