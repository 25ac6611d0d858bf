/** JSON answers and typed request errors for the dashboard's API. */
import { toJson } from "./values.ts"

/** A bad request: answered with its status and `{ error }`, never a stack. */
export class HttpError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.name = "HttpError"
    this.status = status
  }
}

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(toJson(body)), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  })

export const errorResponse = (status: number, error: string): Response => json({ error }, status)
