/**
 * @durably/dashboard — Durably's web dashboard: a small static UI (no framework, no build step) and the
 * JSON API it reads. `durably dashboard` serves it; or mount it in your own server, behind your own auth:
 *
 * ```ts
 * http.createServer(dashboardHandler({ readOnly: true }))          // Node (req, res)
 * const handle = dashboardFetchHandler({})                          // Web Request → Response
 * ```
 */
export { dashboardFetchHandler, type DashboardOptions, type FetchHandler } from "./handler.ts"
export type { DashboardClient } from "./api.ts"
export {
  dashboardHandler,
  serveDashboard,
  toNodeHandler,
  DashboardConfigError,
  type ServeOptions,
  type ServedDashboard,
} from "./node.ts"
