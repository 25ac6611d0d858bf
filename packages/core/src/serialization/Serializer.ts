/**
 * The serializer port: how the engine turns inputs, step results and errors into text for the store.
 * The default is `jsonSerializer` (./json.ts); provide another `Serializer` through `SerializerService` to replace it.
 */
import { Context } from "effect"

/** Turns values into storable text and back. The engine round-trips every input, step result and error through it, also on the first live run. */
export interface Serializer {
  /** A short stable name recorded with payloads (e.g. "durably-json-1"). */
  readonly name: string
  /** Throws SerializationError (from ../errors.ts) naming the path of the bad part, e.g. "$.items[2].callback". */
  readonly encode: (value: unknown) => string
  readonly decode: (text: string) => unknown
}

/** The engine's `Serializer` as an Effect service, e.g. `Layer.succeed(SerializerService, jsonSerializer)`. */
export class SerializerService extends Context.Service<SerializerService, Serializer>()("@durably/core/Serializer") {}
