// The dashboard's UI: plain DOM, no framework and no build step. A view builds its page once when its route
// opens and returns a refresh function, which the app calls every second while the tab is visible (live
// updates): refreshes replace only the data, never a form the user is typing in.
import { workflowsView } from "./workflows.js"
import { workflowView } from "./workflow.js"
import { executorsView, queuesView, schedulesView } from "./operate.js"
import { $, api, h } from "./dom.js"

const views = {
  "": workflowsView,
  workflow: workflowView,
  queues: queuesView,
  schedules: schedulesView,
  executors: executorsView,
}

const route = () => {
  const hash = location.hash.replace(/^#\/?/, "")
  const [path, query = ""] = hash.split("?")
  const [name = "", ...rest] = path.split("/")
  return { name, arg: rest.map(decodeURIComponent).join("/"), params: new URLSearchParams(query) }
}

let info = { readOnly: true }
let refresh = async () => undefined
let generation = 0

const setLive = (ok) => $("#live").classList.toggle("stale", !ok)

const open = async () => {
  const mine = ++generation
  const { name, arg, params } = route()
  for (const a of document.querySelectorAll("[data-nav]"))
    a.classList.toggle("active", a.dataset.nav === (name === "" || name === "workflow" ? "workflows" : name))
  const root = h("div")
  const build = views[name] ?? views[""]
  try {
    const update = await build({ root, arg, params, info, go: (hash) => (location.hash = hash) })
    if (mine !== generation) return
    $("#view").replaceChildren(root)
    refresh = update ?? (async () => undefined)
    setLive(true)
  } catch (e) {
    if (mine !== generation) return
    $("#view").replaceChildren(h("div", { class: "notice error", id: "failure" }, e.message))
    refresh = async () => undefined
  }
}

let busy = false
const tick = async () => {
  if (busy || document.visibilityState !== "visible") return
  busy = true
  const mine = generation
  try {
    await refresh()
    if (mine === generation) setLive(true)
  } catch {
    setLive(false)
  } finally {
    busy = false
  }
}

const start = async () => {
  try {
    info = await api("info")
  } catch (e) {
    $("#view").replaceChildren(h("div", { class: "notice error" }, e.message))
    return
  }
  $("#title").textContent = info.title ?? ""
  if (info.readOnly) $("#mode").textContent = "read-only"
  document.body.classList.toggle("read-only", info.readOnly)
  addEventListener("hashchange", () => void open())
  await open()
  setInterval(() => void tick(), 1000)
}

addEventListener("DOMContentLoaded", () => void start())
