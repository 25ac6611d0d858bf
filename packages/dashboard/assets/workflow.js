// One workflow: what is known of it, its input and output or error, a timeline of its operations (attempts,
// retry delays, sleeps, messages, children, events, stream values), the actions, and a fork beside its origin.
import { api, fill, finished, h, notice, statusBadge, time } from "./dom.js"

const ms = (a, b) => new Date(b).getTime() - new Date(a).getTime()

const duration = (n) =>
  n < 1000 ? `${n} ms` : n < 60_000 ? `${(n / 1000).toFixed(1)} s` : `${(n / 60_000).toFixed(1)} min`

/** A waterfall bar: where the operation ran within the workflow's life so far. */
const bar = (step, start, end) => {
  const total = Math.max(1, ms(start, end))
  const left = Math.max(0, Math.min(100, (ms(start, step.startedAt) / total) * 100))
  const until = step.completedAt ?? step.wakeAt ?? end
  const width = Math.max(0.5, Math.min(100 - left, (ms(step.startedAt, until) / total) * 100))
  const kind = step.state === "pending" ? "pending" : step.errorText !== undefined ? "error" : ""
  return h("div", { class: "timeline" }, h("span", { class: kind, style: `left:${left}%;width:${width}%` }))
}

// What a pending operation's wakeAt means: a sleep's end, a wait's timeout (recv, getEvent), a retry's attempt.
const waitLabel = (kind) =>
  kind === "sleep" ? "wakes " : kind === "step" || kind === "transaction" ? "next attempt " : "times out "

const stepState = (s) => (s.state === "done" && s.errorText !== undefined ? "failed" : s.state)

const details = (s) => {
  // A failed step's last attempt error is its error: list only the attempts before it.
  const earlier = s.errorText !== undefined ? s.attemptErrorTexts.slice(0, -1) : s.attemptErrorTexts
  return [
    earlier.length
      ? h(
          "div",
          {},
          h("span", { class: "muted" }, `failed attempts (${earlier.length}):`),
          earlier.map((t, i) => h("pre", { class: "error" }, `#${i + 1} ${t}`)),
        )
      : null,
    s.wakeAt && s.state === "pending" ? h("div", { class: "muted" }, waitLabel(s.kind), time(s.wakeAt)) : null,
    s.errorText !== undefined
      ? h("pre", { class: "error" }, s.errorText)
      : s.outputText !== undefined
        ? h("pre", {}, s.outputText)
        : null,
    s.events.map((e) => h("div", { class: "mono" }, `event ${e.key} = `, e.text)),
    s.streamValues.map((v) => h("div", { class: "mono" }, `stream ${v.key}[${v.offset}] = `, v.text)),
    s.streamsClosed.map((k) => h("div", { class: "mono muted" }, `stream ${k} closed`)),
  ]
}

const stepsTable = (w, steps, children) => {
  const end = w.completedAt ?? new Date().toISOString()
  const byId = new Map(children.map((c) => [c.id, c]))
  return h(
    "table",
    { class: "steps" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["#", "Operation", "Kind", "State", "Attempts", "Started", "Took", "Timeline", "Result"].map((t) =>
          h("th", {}, t),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      steps.map((s) => {
        const child = s.childId ? byId.get(s.childId) : undefined
        return [
          h(
            "tr",
            { "data-step": s.stepId, "data-state": stepState(s) },
            h("td", {}, s.stepId),
            h("td", {}, s.name),
            h("td", { class: "muted" }, s.kind),
            h("td", {}, stepState(s)),
            h("td", {}, s.attempts),
            h("td", {}, time(s.startedAt)),
            h("td", {}, s.completedAt ? duration(ms(s.startedAt, s.completedAt)) : ""),
            h("td", {}, bar(s, w.createdAt, end)),
            h("td", {}, details(s)),
          ),
          s.childId && (s.kind === "start" || s.kind === "enqueue")
            ? h(
                "tr",
                { class: "nested", "data-child": s.childId },
                h(
                  "td",
                  { colspan: 9 },
                  "↳ child ",
                  h("a", { href: `#/workflow/${encodeURIComponent(s.childId)}`, class: "mono" }, s.childId),
                  " ",
                  child ? statusBadge(child.status) : "",
                ),
              )
            : null,
        ]
      }),
    ),
  )
}

const field = (label, value) =>
  value === undefined || value === null || value === "" ? null : [h("dt", {}, label), h("dd", {}, value)]

export const workflowView = async ({ root, arg: id, info, go }) => {
  const head = h("div", { id: "head" })
  const outcome = h("div", { id: "outcome" })
  const actions = h("div", { class: "actions", id: "actions" })
  const body = h("div", { id: "body" })
  const origin = h("div", { id: "origin" })
  root.append(head, outcome, actions, body, origin)
  let forkStep = ""
  let actionsFor = ""

  const act = async (verb, payload) => {
    try {
      const result = await api(`workflows/${encodeURIComponent(id)}/${verb}`, payload ?? {})
      if (verb === "fork") return go(`#/workflow/${encodeURIComponent(result.id)}`)
      if (verb === "delete") return go("#/")
      fill(outcome, notice(`${verb === "cancel" ? "Cancelled" : "Resumed"}.`))
      actionsFor = ""
      await refresh()
    } catch (e) {
      fill(outcome, notice(e.message, "error"))
    }
  }

  const renderActions = (w, steps) => {
    // Rebuilt only when the status changes, so a chosen fork step survives live refreshes.
    const key = `${w.status}:${steps.length}`
    if (info.readOnly || key === actionsFor) return
    actionsFor = key
    const forkable = steps.filter((s) => s.kind === "step" || s.kind === "transaction")
    if (!forkable.some((s) => String(s.stepId) === forkStep)) forkStep = String(forkable.at(-1)?.stepId ?? "")
    fill(
      actions,
      finished(w.status)
        ? null
        : h(
            "button",
            { class: "danger", id: "cancel", onclick: () => confirm(`Cancel ${id}?`) && act("cancel") },
            "Cancel",
          ),
      ["ERROR", "CANCELLED", "DEAD"].includes(w.status)
        ? h("button", { id: "resume", onclick: () => act("resume") }, "Resume")
        : null,
      forkable.length
        ? h(
            "span",
            {},
            h(
              "select",
              { id: "fork-step", onchange: (e) => (forkStep = e.target.value) },
              forkable.map((s) =>
                h(
                  "option",
                  { value: s.stepId, selected: String(s.stepId) === forkStep },
                  `from #${s.stepId} ${s.name}`,
                ),
              ),
            ),
            " ",
            h("button", { id: "fork", onclick: () => act("fork", { fromStep: Number(forkStep) }) }, "Fork"),
          )
        : null,
      finished(w.status)
        ? h(
            "button",
            {
              class: "danger",
              id: "delete",
              onclick: () => confirm(`Delete ${id} and everything it stored?`) && act("delete"),
            },
            "Delete",
          )
        : null,
    )
  }

  const refresh = async () => {
    const [w, { steps }, { workflows: children }] = await Promise.all([
      api(`workflows/${encodeURIComponent(id)}`),
      api(`workflows/${encodeURIComponent(id)}/steps`),
      api(`workflows/${encodeURIComponent(id)}/children`),
    ])
    // Everything is read before anything is drawn, so the page never shows one refresh's status beside
    // another's steps.
    const [o, { steps: originSteps }] = w.forkedFrom
      ? await Promise.all([
          api(`workflows/${encodeURIComponent(w.forkedFrom)}`).catch(() => undefined),
          api(`workflows/${encodeURIComponent(w.forkedFrom)}/steps`).catch(() => ({ steps: [] })),
        ])
      : [undefined, { steps: [] }]
    fill(head, h("h1", {}, w.name, " ", h("span", { class: "mono muted" }, w.id), " ", statusBadge(w.status)))
    renderActions(w, steps)
    fill(
      body,
      h(
        "div",
        { class: "card" },
        h(
          "dl",
          {},
          field("status", [statusBadge(w.status), w.cancelReason ? ` (${w.cancelReason})` : ""]),
          field("app version", w.appVersion),
          field("executor", w.executorId),
          field("queue", w.queue ? `${w.queue}${w.partitionKey ? ` / ${w.partitionKey}` : ""}` : ""),
          field(
            "parent",
            w.parentId ? h("a", { href: `#/workflow/${encodeURIComponent(w.parentId)}` }, w.parentId) : "",
          ),
          field(
            "forked from",
            w.forkedFrom
              ? h("a", { href: `#/workflow/${encodeURIComponent(w.forkedFrom)}`, id: "forked-from" }, w.forkedFrom)
              : "",
          ),
          field("created", time(w.createdAt)),
          field("updated", time(w.updatedAt)),
          field("completed", time(w.completedAt)),
          field("deadline", time(w.deadline)),
          field("recoveries", w.recoveryAttempts || ""),
        ),
      ),
      h("h2", {}, "Input"),
      h("pre", { id: "input" }, w.inputText),
      w.errorText !== undefined ? [h("h2", {}, "Error"), h("pre", { class: "error", id: "error" }, w.errorText)] : null,
      w.outputText !== undefined ? [h("h2", {}, "Output"), h("pre", { id: "output" }, w.outputText)] : null,
      h("h2", {}, `Operations (${steps.length})`),
      steps.length ? stepsTable(w, steps, children) : h("p", { class: "muted" }, "No operations yet."),
    )
    if (w.forkedFrom) {
      // The fork beside its origin: both histories, step by step.
      fill(
        origin,
        o
          ? [
              h("h2", {}, "Beside its origin"),
              h(
                "table",
                { id: "compare" },
                h(
                  "thead",
                  {},
                  h(
                    "tr",
                    {},
                    h("th", {}, "#"),
                    h("th", {}, ["origin ", statusBadge(o.status)]),
                    h("th", {}, ["this fork ", statusBadge(w.status)]),
                  ),
                ),
                h(
                  "tbody",
                  {},
                  Array.from({ length: Math.max(originSteps.length, steps.length) }, (_, i) =>
                    h(
                      "tr",
                      {},
                      h("td", {}, i),
                      h("td", {}, originSteps[i] ? `${originSteps[i].name}: ${stepState(originSteps[i])}` : ""),
                      h("td", {}, steps[i] ? `${steps[i].name}: ${stepState(steps[i])}` : ""),
                    ),
                  ),
                ),
              ),
            ]
          : notice("Its origin was deleted."),
      )
    }
  }
  await refresh()
  return refresh
}
