// Queues (depth and limits), executors (versions, heartbeats, owned work, stranded versions), schedules.
import { api, fill, h, notice, time } from "./dom.js"

const table = (id, headers, rows) =>
  h(
    "table",
    { id },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers.map((t) => h("th", {}, t)),
      ),
    ),
    h("tbody", {}, rows),
  )

export const queuesView = async ({ root }) => {
  const slot = h("div")
  root.append(h("h1", {}, "Queues"), slot)
  const refresh = async () => {
    const { queues } = await api("queues")
    fill(
      slot,
      queues.length === 0
        ? h("p", { class: "muted" }, "No queues have work or settings.")
        : table(
            "queues",
            ["Queue", "Partition", "Waiting", "Delayed", "Running", "Limits"],
            queues.map((q) =>
              h(
                "tr",
                { "data-queue": q.name, "data-partition": q.partitionKey ?? "" },
                h("td", {}, h("a", { href: `#/?queue=${encodeURIComponent(q.name)}` }, q.name)),
                h("td", {}, q.partitionKey ?? ""),
                h("td", { class: "waiting" }, q.enqueued),
                h("td", { class: "delayed" }, q.delayed),
                h("td", { class: "running" }, q.running),
                h("td", { class: "muted" }, q.limits),
              ),
            ),
          ),
    )
  }
  await refresh()
  return refresh
}

export const executorsView = async ({ root }) => {
  const slot = h("div")
  root.append(h("h1", {}, "Executors"), slot)
  const refresh = async () => {
    const { executors, stranded } = await api("executors")
    fill(
      slot,
      stranded.map((s) =>
        notice(
          [
            `${s.count} PENDING workflows of app version ${s.appVersion} have no live executor: `,
            h("a", { href: `#/?status=PENDING&appVersion=${encodeURIComponent(s.appVersion)}` }, "list them"),
          ],
          "error",
        ),
      ),
      executors.length === 0
        ? h("p", { class: "muted" }, "No executors.")
        : table(
            "executors",
            ["Executor", "App version", "Last heartbeat", "Alive", "Owns"],
            executors.map((e) =>
              h(
                "tr",
                {},
                h(
                  "td",
                  { class: "mono" },
                  h("a", { href: `#/?executorId=${encodeURIComponent(e.executorId)}` }, e.executorId),
                ),
                h("td", {}, e.appVersion),
                h("td", {}, time(e.lastHeartbeat)),
                h("td", {}, e.alive ? "yes" : "no"),
                h("td", {}, e.workflowsOwned),
              ),
            ),
          ),
    )
  }
  await refresh()
  return refresh
}

export const schedulesView = async ({ root, info }) => {
  const outcome = h("div", { id: "outcome" })
  const slot = h("div")
  root.append(h("h1", {}, "Schedules"), outcome, slot)
  const act = async (name, verb) => {
    try {
      const result = await api(`schedules/${encodeURIComponent(name)}/${verb}`, {})
      fill(
        outcome,
        notice(
          verb === "trigger"
            ? ["Triggered: ", h("a", { href: `#/workflow/${encodeURIComponent(result.id)}` }, result.id)]
            : `${verb === "pause" ? "Paused" : "Resumed"} ${name}.`,
        ),
      )
      await refresh()
    } catch (e) {
      fill(outcome, notice(e.message, "error"))
    }
  }
  const refresh = async () => {
    const { schedules } = await api("schedules")
    fill(
      slot,
      schedules.length === 0
        ? h("p", { class: "muted" }, "No schedules.")
        : table(
            "schedules",
            ["Schedule", "Workflow", "Cron", "Next tick", "Last tick", "Queue", "Origin", ""],
            schedules.map((s) =>
              h(
                "tr",
                { "data-schedule": s.name },
                h("td", {}, s.name),
                h("td", {}, h("a", { href: `#/?name=${encodeURIComponent(s.workflow)}` }, s.workflow)),
                h("td", { class: "mono" }, `${s.cron} (${s.timezone})`),
                h(
                  "td",
                  { class: "next" },
                  s.paused ? h("span", { class: "status CANCELLED" }, "paused") : time(s.nextTick),
                ),
                h("td", {}, time(s.lastTick)),
                h("td", {}, s.queue ?? ""),
                h("td", { class: "muted" }, s.origin),
                h(
                  "td",
                  {},
                  info.readOnly
                    ? ""
                    : [
                        h(
                          "button",
                          { class: "toggle", onclick: () => act(s.name, s.paused ? "resume" : "pause") },
                          s.paused ? "Resume" : "Pause",
                        ),
                        " ",
                        h("button", { class: "trigger", onclick: () => act(s.name, "trigger") }, "Trigger now"),
                      ],
                ),
              ),
            ),
          ),
    )
  }
  await refresh()
  return refresh
}
