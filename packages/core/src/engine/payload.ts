/**
 * Turning workflow values into stored text and back. A schema, when the workflow or step declares one, drives
 * the encoding; otherwise the engine's Serializer does. Every value the workflow sees has made this round trip,
 * so live and replayed runs see the same thing.
 */
import { Cause, Exit, Schema } from "effect"
import { InvalidArgument, PayloadTooLargeError, SchemaMismatchError, SerializationError } from "../errors.ts"
import { jsonSerializer } from "../serialization/json.ts"
import type { Serializer } from "../serialization/Serializer.ts"
import { storableText } from "../validation.ts"

/** A schema with no service requirements, used to validate and encode a value. */
export type Codec<T> = Schema.Codec<T, unknown, never, never>

const jsonCodecs = new WeakMap<object, Schema.Codec<unknown, unknown, never, never>>()
const jsonCodec = (codec: Codec<unknown>) => {
  let c = jsonCodecs.get(codec)
  if (!c)
    jsonCodecs.set(codec, (c = Schema.toCodecJson(codec) as unknown as Schema.Codec<unknown, unknown, never, never>))
  return c
}

export interface PayloadContext {
  readonly serializer: Serializer
  readonly maxPayloadBytes: number
  readonly workflowId: string
  readonly workflowName: string
}

const checkSize = (text: string, what: string, p: PayloadContext) => {
  // Cheap upper bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= p.maxPayloadBytes) return text
  const bytes = Buffer.byteLength(text)
  if (bytes > p.maxPayloadBytes)
    throw new PayloadTooLargeError({ bytes, maxBytes: p.maxPayloadBytes, workflowId: p.workflowId, what })
  return text
}

/** Encode a value; throws SerializationError / SchemaMismatchError / PayloadTooLargeError naming `what`. */
export const encodeValue = (
  value: unknown,
  codec: Codec<unknown> | undefined,
  what: string,
  p: PayloadContext,
): string => {
  try {
    if (codec) {
      const exit = Schema.encodeExit(jsonCodec(codec))(value)
      if (Exit.isFailure(exit))
        throw new SchemaMismatchError({ workflowName: p.workflowName, what, issue: schemaIssue(exit) })
      return checkSize(JSON.stringify(exit.value), what, p)
    }
    const text: unknown = p.serializer.encode(value)
    // The default serializer's JSON escapes both; a custom one might hand over text no SQL store can hold.
    if (typeof text !== "string" || (p.serializer !== jsonSerializer && !storableText(text)))
      throw new SerializationError({
        reason: `the serializer ${JSON.stringify(p.serializer.name)} produced ${typeof text === "string" ? "text with a NUL character or a lone surrogate, which Postgres cannot store" : "no text"}`,
        path: "$",
      })
    return checkSize(text, what, p)
  } catch (e) {
    if (e instanceof SerializationError) throw new SerializationError({ ...e, workflowId: p.workflowId, step: what })
    // A value nested deeper than the stack (a custom serializer or a schema walking it) overflows it.
    if (e instanceof RangeError && /call stack/i.test(e.message))
      throw new SerializationError({
        reason: "the value is nested too deeply to serialize",
        path: "$",
        workflowId: p.workflowId,
        step: what,
      })
    throw e
  }
}

/**
 * Encode a value a caller hands over (a message, an event value, a stream value, a fork's input). `undefined`,
 * when `undefinedReason` is given, is an InvalidArgument; otherwise as encodeValue: a value the serializer
 * cannot take (a function, a cycle, nesting past its limit) is a SerializationError naming `what` and the
 * path, as it is for a workflow's input, so one kind of value fails the same way at every call.
 */
export const encodeArgument = (
  value: unknown,
  codec: Codec<unknown> | undefined,
  what: string,
  p: PayloadContext,
  undefinedReason?: string,
): string => {
  if (value === undefined && undefinedReason !== undefined) throw new InvalidArgument({ reason: undefinedReason })
  return encodeValue(value, codec, what, p)
}

export const decodeValue = (
  text: string,
  codec: Codec<unknown> | undefined,
  what: string,
  p: PayloadContext,
): unknown => {
  if (!codec) return p.serializer.decode(text)
  const exit = Schema.decodeExit(jsonCodec(codec))(JSON.parse(text))
  if (Exit.isFailure(exit))
    throw new SchemaMismatchError({ workflowName: p.workflowName, what, issue: schemaIssue(exit) })
  return exit.value
}

/**
 * Encode a thrown value. Never throws: an error the declared schema describes is encoded with it; anything
 * else goes through the serializer, and if even that fails, its name, message and stack are kept.
 */
export const encodeError = (
  error: unknown,
  codec: Codec<unknown> | undefined,
  what: string,
  p: PayloadContext,
): string => {
  if (codec && Schema.is(codec)(error)) {
    const exit = Schema.encodeExit(jsonCodec(codec))(error)
    if (Exit.isSuccess(exit)) return JSON.stringify(exit.value)
  }
  try {
    return encodeValue(error, undefined, what, p)
  } catch (cause) {
    // Too large or unserializable: keep what identifies the error, dropping the stack, then the extras.
    const e = error instanceof Error ? error : new Error(String(error))
    const props = Object.fromEntries(Object.entries(e).filter(([k]) => k !== "stack" && k !== "cause"))
    for (const reduced of [
      Object.assign(new Error(e.message), props, { name: e.name, stack: `${e.name}: ${e.message}` }),
      Object.assign(new Error(e.message.slice(0, 1000)), { name: e.name, stack: "" }),
    ]) {
      try {
        return encodeValue(reduced, undefined, what, p)
      } catch {
        // try the next, smaller form
      }
    }
    return p.serializer.encode(new Error(`unserializable error (${String(cause)})`))
  }
}

export const decodeError = (text: string, codec: Codec<unknown> | undefined, p: PayloadContext): unknown => {
  if (codec) {
    try {
      const exit = Schema.decodeExit(jsonCodec(codec))(JSON.parse(text))
      if (Exit.isSuccess(exit)) return exit.value
    } catch {
      // not JSON the schema wrote: fall through to the serializer
    }
  }
  return p.serializer.decode(text)
}

const schemaIssue = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) return ""
  // The schema's own words ("Expected boolean at ["approved"]"), not the Cause wrapped around them.
  const failure = Cause.squash(exit.cause)
  const text = (failure instanceof Error ? failure.message : String(failure)).replace(/\s*\n\s*/g, " ")
  return text.length > 500 ? `${text.slice(0, 500)}…` : text
}
