/**
 * Who may use the dashboard. With `loopbackOnly`, only requests addressed to a loopback host (a
 * DNS-rebinding page cannot name one); with a token, a bearer header or the cookie that `/?token=…` sets.
 * Actions (POST) also need the `x-durably` header, which a cross-site form or image cannot send.
 */
import { timingSafeEqual } from "node:crypto"

export const tokenCookie = "durably_token"

const loopbackHosts = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i

const same = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const cookie = (request: Request, name: string): string | undefined => {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=")
    if (k === name) return decodeURIComponent(v.join("="))
  }
  return undefined
}

export type GuardResult =
  { readonly ok: true } | { readonly ok: false; readonly status: number; readonly error: string }

export const guard = (request: Request, token: string | undefined, loopbackOnly: boolean): GuardResult => {
  if (loopbackOnly) {
    const host = request.headers.get("host") ?? ""
    if (!loopbackHosts.test(host))
      return {
        ok: false,
        status: 403,
        error: `host ${JSON.stringify(host)} refused: without a token the dashboard answers only on loopback`,
      }
  }
  if (token !== undefined) {
    const bearer = /^Bearer (.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1]
    const given = bearer ?? cookie(request, tokenCookie)
    if (given === undefined || !same(given, token))
      return {
        ok: false,
        status: 401,
        error: "a token is needed: open the URL with ?token=… or send Authorization: Bearer …",
      }
  }
  if (request.method !== "GET" && request.method !== "HEAD" && request.headers.get("x-durably") !== "1")
    return { ok: false, status: 403, error: "actions need the x-durably: 1 header" }
  return { ok: true }
}
