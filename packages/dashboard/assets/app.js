// The dashboard's UI: plain DOM, no framework and no build step. Each view is a function that fetches the
// JSON API and renders; the current view re-renders every second while the tab is visible (live updates).
const $ = (sel, root = document) => root.querySelector(sel)

const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v)
    else if (k === "class") el.className = v
    else el.setAttribute(k, v === true ? "" : String(v))
  }
  for (const c of children.flat())
    if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}

export class ApiError extends Error {}

const api = async (path, init = {}) => {
  const response = await fetch(`api/${path}`, {
    ...init,
    headers: { "x-durably": "1", ...(init.body ? { "content-type": "application/json" } : {}), ...init.headers },
  })
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }))
  if (!response.ok) throw new ApiError(body.error ?? `HTTP ${response.status}`)
  return body
}

const state = { info: { readOnly: true }, views: new Map() }

/** Register a view for a route ("" for the default). */
export const view = (name, render) => state.views.set(name, render)

const route = () => {
  const [name = "", ...rest] = location.hash.replace(/^#\/?/, "").split("/")
  const [first, query = ""] = [rest.join("/"), ""]
  return {
    name: name.split("?")[0],
    arg: decodeURIComponent(first.split("?")[0]),
    params: new URLSearchParams(location.hash.split("?")[1] ?? query),
  }
}

let timer
let rendering = false
const render = async (initial) => {
  if (rendering) return
  rendering = true
  const { name, arg, params } = route()
  for (const a of document.querySelectorAll("[data-nav]"))
    a.classList.toggle(
      "active",
      a.dataset.nav === (name || "workflows") || (name === "workflow" && a.dataset.nav === "workflows"),
    )
  const fn = state.views.get(name) ?? state.views.get("")
  const root = $("#view")
  try {
    const content = await fn({ arg, params, api, h, info: state.info, initial, refresh: () => render(false) })
    if (content) {
      // Keep what the user is typing in a filter field across live re-renders.
      const focused = document.activeElement?.id
      root.replaceChildren(content)
      if (focused) $(`#${CSS.escape(focused)}`)?.focus()
    }
    $("#live").classList.remove("stale")
  } catch (e) {
    if (initial) root.replaceChildren(h("div", { class: "notice error" }, e.message))
    $("#live").classList.add("stale")
  } finally {
    rendering = false
  }
}

const start = async () => {
  try {
    state.info = await api("info")
  } catch (e) {
    $("#view").replaceChildren(h("div", { class: "notice error" }, e.message))
    return
  }
  $("#title").textContent = state.info.title ?? ""
  if (state.info.readOnly) $("#mode").textContent = "read-only"
  addEventListener("hashchange", () => void render(true))
  await render(true)
  clearInterval(timer)
  timer = setInterval(() => {
    if (document.visibilityState === "visible" && !document.querySelector("dialog[open]")) void render(false)
  }, 1000)
}

view("", async () => h("p", { class: "muted" }, "Nothing to show yet."))

addEventListener("DOMContentLoaded", () => void start())
