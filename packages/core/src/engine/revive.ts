/**
 * A recorded error comes back from the store as a plain Error carrying its `_tag` and fields (the serializer
 * keeps them). For the engine's own errors that workflow code may catch by class, make it that class again,
 * so `instanceof` holds live and on replay alike.
 */
type ErrorClass = new (props: never) => Error

export const revive = (error: unknown, classes: ReadonlyArray<ErrorClass>): unknown => {
  const tag = (error as { _tag?: unknown } | null)?._tag
  for (const cls of classes)
    if (tag === cls.name && !(error instanceof cls)) return Object.assign(new cls(error as never), error)
  return error
}
