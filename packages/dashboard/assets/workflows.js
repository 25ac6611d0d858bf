// The workflow list: filters (kept in the URL), live counts per status, a page of runs, bulk actions.
import { api, fill, h, notice, shorten, statusBadge, time } from "./dom.js"

const statuses = ["ENQUEUED", "DELAYED", "PENDING", "SUCCESS", "ERROR", "CANCELLED", "DEAD"]
const fields = [
  ["name", "Name"],
  ["idPrefix", "Id prefix"],
  ["queue", "Queue"],
  ["appVersion", "Version"],
  ["createdAfter", "Created after"],
  ["createdBefore", "Created before"],
]

const filterOf = (params) => {
  const filter = new URLSearchParams()
  for (const key of ["status", ...fields.map(([k]) => k), "executorId", "cursor"]) {
    const v = params.get(key)
    if (v) filter.set(key, v)
  }
  return filter
}

export const workflowsView = async ({ root, params, info, go }) => {
  const filter = filterOf(params)
  const withFilter = (changes) => {
    const next = new URLSearchParams(filter)
    next.delete("cursor")
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v)
      else next.delete(k)
    }
    return `#/?${next}`
  }
  const form = h(
    "form",
    {
      class: "filters",
      id: "filters",
      onsubmit: (e) => {
        e.preventDefault()
        const data = new FormData(e.target)
        go(withFilter(Object.fromEntries([...data].map(([k, v]) => [k, String(v).trim()]))))
      },
    },
    h(
      "label",
      {},
      "Status",
      h(
        "select",
        { name: "status", id: "f-status" },
        h("option", { value: "" }, "any"),
        statuses.map((s) => h("option", { value: s, selected: filter.get("status") === s }, s)),
      ),
    ),
    fields.map(([key, label]) =>
      h(
        "label",
        {},
        label,
        h("input", {
          name: key,
          id: `f-${key}`,
          value: filter.get(key) ?? "",
          placeholder: key.startsWith("created") ? "2026-03-01 or 2h" : "",
          size: key.startsWith("created") ? 14 : 12,
        }),
      ),
    ),
    h("button", { type: "submit", class: "primary", id: "apply" }, "Filter"),
    h("a", { href: "#/" }, "clear"),
  )
  const counts = h("div", { class: "counts", id: "counts" })
  const outcome = h("div", { id: "outcome" })
  const rows = h("div", { id: "rows" })
  const bulk = (verb) =>
    h(
      "button",
      {
        class: verb === "cancel" ? "danger" : "",
        id: `bulk-${verb}`,
        onclick: async () => {
          const body = Object.fromEntries([...filter].filter(([k]) => k !== "cursor"))
          if (Object.keys(body).length === 0)
            return fill(outcome, notice(`Choose a filter before a bulk ${verb}.`, "error"))
          if (!confirm(`${verb === "cancel" ? "Cancel" : "Resume"} every workflow that matches this filter?`)) return
          try {
            const { ids } = await api(`workflows/${verb}`, body)
            fill(outcome, notice(`${verb === "cancel" ? "Cancelled" : "Resumed"} ${ids.length} workflows.`))
            await refresh()
          } catch (e) {
            fill(outcome, notice(e.message, "error"))
          }
        },
      },
      `${verb === "cancel" ? "Cancel" : "Resume"} all matching`,
    )
  root.append(
    h("h1", {}, "Workflows"),
    form,
    counts,
    info.readOnly ? null : h("div", { class: "actions" }, bulk("cancel"), bulk("resume")),
    outcome,
    rows,
  )

  const refresh = async () => {
    const page = await api(`workflows?${filter}`)
    fill(
      counts,
      statuses.map((s) =>
        h(
          "a",
          { href: withFilter({ status: filter.get("status") === s ? "" : s }), "data-status": s },
          statusBadge(s),
          " ",
          h("span", { class: "count" }, page.counts[s]),
        ),
      ),
    )
    fill(
      rows,
      page.workflows.length === 0
        ? h("p", { class: "muted", id: "empty" }, "No workflows match.")
        : h(
            "table",
            { id: "workflows" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Id", "Name", "Status", "Queue", "Created", "Updated", "Error"].map((t) => h("th", {}, t)),
              ),
            ),
            h(
              "tbody",
              {},
              page.workflows.map((w) =>
                h(
                  "tr",
                  { class: "row", "data-id": w.id, onclick: () => go(`#/workflow/${encodeURIComponent(w.id)}`) },
                  h("td", { class: "mono" }, h("a", { href: `#/workflow/${encodeURIComponent(w.id)}` }, w.id)),
                  h("td", {}, w.name),
                  h("td", {}, statusBadge(w.status)),
                  h("td", {}, w.queue ?? ""),
                  h("td", {}, time(w.createdAt)),
                  h("td", {}, time(w.updatedAt)),
                  h("td", { class: "mono" }, shorten(w.errorText?.split("\n")[0], 80)),
                ),
              ),
            ),
          ),
      page.nextCursor
        ? h("p", {}, h("a", { href: withFilter({ cursor: page.nextCursor }), id: "next" }, "Next page →"))
        : null,
    )
  }
  await refresh()
  return refresh
}
