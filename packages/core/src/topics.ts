/**
 * Typed message topics: `defineTopic("approval", Schema.Boolean)` names a topic and, optionally, the schema
 * that validates and encodes its messages. Both ends use the same value, so `durably.send(id, approval, true)`
 * and `ctx.recv(approval)` agree on the type.
 */
import type { Codec } from "./engine/payload.ts"
import { InvalidArgument } from "./errors.ts"
import { validateName } from "./workflow.ts"

/** A message topic: its name, and the schema of its messages when one was given. */
export interface Topic<A> {
  readonly _tag: "Topic"
  readonly name: string
  readonly schema: Codec<A> | undefined
  /** Type-level only. */
  readonly "~type"?: A
}

/** A topic by name (untyped, or typed by the call's type argument), or a typed topic made by `defineTopic`. */
export type TopicRef<A> = string | Topic<A>

/**
 * Define a topic: `defineTopic("approval", Schema.Boolean)` validates every message against the schema, at
 * send and at receive; `defineTopic<Approval>("approval")` only types it.
 */
export function defineTopic<A>(name: string, schema: Codec<A>): Topic<A>
export function defineTopic<A>(name: string): Topic<A>
export function defineTopic<A>(name: string, schema?: Codec<A>): Topic<A> {
  validateName(name, "defineTopic: the topic name")
  return Object.freeze({ _tag: "Topic" as const, name, schema })
}

/** The name and codec of a topic argument; throws InvalidArgument for anything else. */
export const resolveTopic = (
  topic: unknown,
  what: string,
): { readonly name: string; readonly codec: Codec<unknown> | undefined } => {
  if (typeof topic === "object" && topic !== null && (topic as { _tag?: unknown })._tag === "Topic") {
    const t = topic as Topic<unknown>
    return { name: t.name, codec: t.schema }
  }
  if (typeof topic !== "string")
    throw new InvalidArgument({
      reason: `${what} must be a topic name (a non-empty string) or a topic made by defineTopic; got ${typeof topic}`,
    })
  validateName(topic, what)
  return { name: topic, codec: undefined }
}
