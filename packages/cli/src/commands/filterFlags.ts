/** The listing filters as flags, shared by `workflows list`, `count` and the bulk actions. */
import type { ListOptions, WorkflowFilter } from "@durably/core"
import { filterFrom, listOptionsFrom, type Lookup } from "@durably/dashboard/query"
import type { Flags, Parsed } from "../args.ts"

/** Flag name → the API's field. */
const fields: Record<string, string> = {
  status: "status",
  name: "name",
  "id-prefix": "idPrefix",
  queue: "queue",
  executor: "executorId",
  "app-version": "appVersion",
  parent: "parentId",
  "created-after": "createdAfter",
  "created-before": "createdBefore",
  "updated-after": "updatedAfter",
  limit: "limit",
  cursor: "cursor",
  order: "order",
}

export const filterFlags: Flags = {
  status: {
    type: "string",
    multiple: true,
    placeholder: "STATUS",
    description: "ENQUEUED, DELAYED, PENDING, SUCCESS, ERROR, CANCELLED or DEAD",
  },
  name: { type: "string", multiple: true, placeholder: "NAME", description: "the workflow's name" },
  "id-prefix": { type: "string", placeholder: "PREFIX", description: "ids starting with this" },
  queue: { type: "string", placeholder: "QUEUE", description: "enqueued on this queue" },
  executor: { type: "string", placeholder: "ID", description: "owned by this executor" },
  "app-version": { type: "string", placeholder: "VERSION", description: "recorded under this app version" },
  parent: { type: "string", placeholder: "ID", description: "children of this workflow" },
  "created-after": {
    type: "string",
    placeholder: "TIME",
    description: "ISO 8601 date or time, or a duration ago (2h, 30m, 7d)",
  },
  "created-before": { type: "string", placeholder: "TIME", description: "as --created-after" },
  "updated-after": { type: "string", placeholder: "TIME", description: "as --created-after" },
}

export const pageFlags: Flags = {
  limit: { type: "string", placeholder: "N", description: "page size, 1 to 1000 (default 50)" },
  cursor: { type: "string", placeholder: "CURSOR", description: "the next page, as the previous page printed it" },
  order: { type: "string", placeholder: "asc|desc", description: "by creation time; default desc (newest first)" },
}

const lookup =
  (parsed: Parsed): Lookup =>
  (field) => {
    const flag = Object.keys(fields).find((f) => fields[f] === field)
    return flag ? parsed.strings(flag) : []
  }

export const filterOf = (parsed: Parsed): WorkflowFilter => filterFrom(lookup(parsed))
export const listOptionsOf = (parsed: Parsed): ListOptions => listOptionsFrom(lookup(parsed))
