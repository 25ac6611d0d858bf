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

const limits = (s) => {
  if (!s) return ""
  const parts = []
  if (s.concurrency !== undefined) parts.push(`concurrency ${s.concurrency}`)
  if (s.workerConcurrency !== undefined) parts.push(`per worker ${s.workerConcurrency}`)
  if (s.rateLimit) parts.push(`${s.rateLimit.limit} starts / ${s.rateLimit.periodMs} ms`)
  if (s.partition?.concurrency !== undefined) parts.push(`per partition ${s.partition.concurrency}`)
  if (s.partition?.rateLimit)
    parts.push(`per partition ${s.partition.rateLimit.limit} / ${s.partition.rateLimit.periodMs} ms`)
  if (s.maxLength !== undefined) parts.push(`max length ${s.maxLength}`)
  return parts.length ? parts.join(", ") : "no limits"
}

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
                h("td", { class: "muted" }, limits(q.settings)),
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

export const schedulesView = async ({ root }) => {
  const slot = h("div")
  root.append(h("h1", {}, "Schedules"), slot)
  const refresh = async () => {
    try {
      const { schedules } = await api("schedules")
      fill(
        slot,
        table(
          "schedules",
          ["Schedule", "Cron"],
          schedules.map((s) => h("tr", {}, h("td", {}, s.name), h("td", {}, s.cron))),
        ),
      )
    } catch (e) {
      fill(slot, notice(e.message))
    }
  }
  await refresh()
  return refresh
}
