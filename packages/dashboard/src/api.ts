/**
 * The dashboard's JSON API, on the management API (a client, or an engine). Values are sent twice where the
 * UI shows them: as JSON (`toJson`) and as readable text (`pretty`), so the browser needs no codec.
 */
import {
  describeQueueLimits,
  InvalidArgument,
  ScheduleNotFound,
  WorkflowNotFound,
  workflowStatuses,
  type ManagementApi,
  type Schedules,
  type StepRecord,
} from "@durably/core"
import { HttpError, json } from "./http.ts"
import { filterFrom, isEmptyFilter, listOptionsFrom, type Lookup } from "./query.ts"
import { pretty } from "./values.ts"

/** What the dashboard reads and acts through: a client or an engine (schedules when it has them). */
export type DashboardClient = ManagementApi & { readonly schedules?: Schedules }

export interface ApiContext {
  readonly client: DashboardClient
  readonly readOnly: boolean
}

const lookupOf =
  (params: URLSearchParams): Lookup =>
  (field) =>
    params
      .getAll(field)
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter((v) => v !== "")

const lookupOfBody =
  (body: Record<string, unknown>): Lookup =>
  (field) => {
    const v = body[field]
    if (v === undefined || v === null || v === "") return []
    return (Array.isArray(v) ? v : [v]).map(String)
  }

const text = (v: unknown) => (v === undefined ? undefined : pretty(v))

const stepView = (s: StepRecord) => ({
  ...s,
  outputText: text(s.output),
  errorText: text(s.error),
  attemptErrorTexts: s.attemptErrors.map((e) => pretty(e)),
  events: s.events.map((e) => ({ key: e.key, text: pretty(e.value) })),
  streamValues: s.streamValues.map((v) => ({ key: v.key, offset: v.offset, text: pretty(v.value) })),
})

const readBody = async (request: Request): Promise<Record<string, unknown>> => {
  const raw = await request.text()
  if (raw === "") return {}
  try {
    const parsed = JSON.parse(raw) as unknown
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>
  } catch {
    // answered below
  }
  throw new HttpError(400, "the request body must be a JSON object")
}

/** Answers /api/<path>; throws HttpError for a bad request. */
export const apiRoute = async (request: Request, path: string, ctx: ApiContext): Promise<Response> => {
  const { client } = ctx
  const url = new URL(request.url)
  const parts = path
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent)
  const get = request.method === "GET"
  const post = request.method === "POST"
  if (post && ctx.readOnly) throw new HttpError(403, "the dashboard is read-only")

  try {
    if (get && parts.length === 1 && parts[0] === "workflows") {
      const lookup = lookupOf(url.searchParams)
      const options = listOptionsFrom(lookup)
      const page = await client.workflows.list({ ...options, includeOutput: true })
      // Counts per status under the same filter (without its status), for the status chips.
      const { status: _, ...rest } = filterFrom(lookup)
      const counts = Object.fromEntries(
        await Promise.all(
          workflowStatuses.map(async (s) => [s, await client.workflows.count({ ...rest, status: s })] as const),
        ),
      )
      return json({
        workflows: page.workflows.map((w) => ({ ...w, errorText: text(w.error) })),
        nextCursor: page.nextCursor,
        counts,
      })
    }
    if (get && parts[0] === "workflows" && parts.length === 2) {
      const w = await client.workflows.get(parts[1]!)
      return json({ ...w, inputText: pretty(w.input), outputText: text(w.output), errorText: text(w.error) })
    }
    if (get && parts[0] === "workflows" && parts.length === 3 && parts[2] === "steps") {
      const steps = await client.workflows.steps(parts[1]!)
      return json({ steps: steps.map(stepView) })
    }
    if (get && parts[0] === "workflows" && parts.length === 3 && parts[2] === "children") {
      const page = await client.workflows.list({ parentId: parts[1]!, order: "asc", limit: 200 })
      // No children may mean no such workflow: answer that with a 404 (WorkflowNotFound), as its other routes do.
      if (page.workflows.length === 0) await client.workflows.get(parts[1]!)
      return json({ workflows: page.workflows })
    }
    if (post && parts[0] === "workflows" && parts.length === 2 && (parts[1] === "cancel" || parts[1] === "resume")) {
      const body = await readBody(request)
      const filter = filterFrom(lookupOfBody(body))
      if (isEmptyFilter(filter)) throw new HttpError(400, `a bulk ${parts[1]} needs a filter (status, name, …)`)
      const result =
        parts[1] === "cancel" ? await client.workflows.cancelMany(filter) : await client.workflows.resumeMany(filter)
      return json(result)
    }
    if (post && parts[0] === "workflows" && parts.length === 3) {
      const id = parts[1]!
      const body = await readBody(request)
      switch (parts[2]) {
        case "cancel":
          await client.workflows.cancel(id)
          return json({ ids: [id] })
        case "resume":
          await client.workflows.resume(id)
          return json({ ids: [id] })
        case "fork": {
          const from = body["fromStep"]
          if (typeof from !== "number" && typeof from !== "string")
            throw new HttpError(400, "fork needs fromStep: a step number or name")
          return json({ id: await client.workflows.fork(id, { fromStep: from }) })
        }
        case "delete":
          await client.workflows.delete(id)
          return json({ ids: [id] })
      }
    }
    if (get && path === "/queues")
      return json({
        queues: (await client.queues.list()).map((q) => ({ ...q, limits: describeQueueLimits(q.settings) })),
      })
    if (get && path === "/executors")
      return json({ executors: await client.executors.list(), stranded: await client.workflows.stranded() })
    if (parts[0] === "schedules") {
      const schedules = client.schedules
      if (!schedules) throw new HttpError(404, "schedules are not available through this client")
      if (get && parts.length === 1) return json({ schedules: await schedules.list() })
      if (post && parts.length === 3) {
        const name = parts[1]!
        if (parts[2] === "pause") return json(await schedules.pause(name))
        if (parts[2] === "resume") return json(await schedules.resume(name))
        if (parts[2] === "trigger") return json({ id: (await schedules.trigger(name)).id })
      }
    }
  } catch (e) {
    if (e instanceof WorkflowNotFound || e instanceof ScheduleNotFound) throw new HttpError(404, e.message)
    if (e instanceof InvalidArgument) throw new HttpError(400, e.message)
    throw e
  }
  throw new HttpError(404, `no such API route: ${request.method} /api${path}`)
}
