// Small DOM helpers shared by the views.
export const $ = (sel, root = document) => root.querySelector(sel)

/** h("a", { href, onclick }, "text", child…): an element; null, undefined and false children are skipped. */
export const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v)
    else if (k === "class") el.className = v
    else if (k === "value") el.value = v
    else el.setAttribute(k, v === true ? "" : String(v))
  }
  for (const c of children.flat(Infinity))
    if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}

/** Calls the JSON API; rejects with the server's error message. */
export const api = async (path, body) => {
  const response = await fetch(`api/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "x-durably": "1", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const parsed = await response.json().catch(() => ({ error: `HTTP ${response.status}` }))
  if (!response.ok) throw new Error(parsed.error ?? `HTTP ${response.status}`)
  return parsed
}

export const statusBadge = (status) => h("span", { class: `status ${status}` }, status)

/** A time as local date and time, with the ISO instant on hover. */
export const time = (iso) => (iso ? h("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString()) : "")

export const shorten = (text, max = 80) => (text && text.length > max ? `${text.slice(0, max - 1)}…` : (text ?? ""))

/** A message in place of the data: an action's outcome or a failure. */
export const notice = (text, kind = "") => h("div", { class: `notice ${kind}`, role: "status" }, text)

/** Replace `slot`'s children with what `render` gives (used by refreshes). */
export const fill = (slot, ...nodes) =>
  slot.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== undefined && n !== null && n !== false))

export const finished = (status) => status === "SUCCESS" || status === "ERROR" || status === "CANCELLED"
