import { Data } from "effect"
import fc from "fast-check"
import { isDeepStrictEqual } from "node:util"
import { describe, expect, it } from "vitest"
import { SerializationError } from "../src/errors.ts"
import { jsonSerializer } from "../src/serialization/json.ts"

const { encode, decode } = jsonSerializer
const roundTrip = <A>(value: A): A => decode(encode(value)) as A

type Tester = Parameters<typeof expect.addEqualityTesters>[0][number]

// Tighter than vitest's defaults: errors must keep their stack, Maps and Sets their insertion order.
const stacksAndOrder: Tester = function (a, b, testers) {
  if (a instanceof Error && b instanceof Error && a.stack !== b.stack) return false
  if ((a instanceof Map && b instanceof Map) || (a instanceof Set && b instanceof Set)) {
    return this.equals([...(a as Iterable<unknown>)], [...(b as Iterable<unknown>)], testers, true)
  }
  return undefined
}
expect.addEqualityTesters([stacksAndOrder])

/** The SerializationError that encoding (or decoding) `value` throws. */
const failureOf = (run: () => unknown): SerializationError => {
  try {
    run()
  } catch (e) {
    if (e instanceof SerializationError) return e
    throw e
  }
  throw new Error("expected a SerializationError, but nothing was thrown")
}

const define = (o: object, key: string, value: unknown, enumerable: boolean) =>
  Object.defineProperty(o, key, { value, enumerable, writable: true, configurable: true })

// ---- arbitraries ----------------------------------------------------------------------------------------------

// No "constructor": vitest's toStrictEqual compares `a.constructor === b.constructor`, which an own property of that
// name breaks for any copied value; it has its own test below.
const key = fc.oneof(
  fc.string({ maxLength: 5 }).filter((k) => k !== "constructor"),
  fc.constantFrom("~t", "v", "__proto__", "toString", "hasOwnProperty", "", "weird key", "0", "1e3"),
)

const leaf = fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -0, NaN, Infinity, -Infinity, "", "~t", "undefined"),
  fc.double(),
  fc.integer(),
  fc.string({ unit: "binary" }),
  fc.bigInt(),
  fc.date(), // includes invalid dates and years beyond 9999
  fc.uint8Array({ maxLength: 10 }),
)

const ERRORS: Record<string, (message: string, options: ErrorOptions | undefined, errors: unknown[]) => Error> = {
  Error: (m, o) => new Error(m, o),
  TypeError: (m, o) => new TypeError(m, o),
  RangeError: (m, o) => new RangeError(m, o),
  SyntaxError: (m, o) => new SyntaxError(m, o),
  ReferenceError: (m, o) => new ReferenceError(m, o),
  EvalError: (m, o) => new EvalError(m, o),
  URIError: (m, o) => new URIError(m, o),
  AggregateError: (m, o, errors) => new AggregateError(errors, m, o),
}

interface Values {
  value: unknown
  array: unknown[]
  object: Record<string, unknown>
  map: Map<unknown, unknown>
  set: Set<unknown>
  error: Error
}

const { value: anyValue } = fc.letrec<Values>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthSize: "small" },
    leaf,
    tie("array"),
    tie("object"),
    tie("map"),
    tie("set"),
    tie("error"),
  ),
  array: fc.array(tie("value"), { maxLength: 4 }),
  object: fc.dictionary(key, tie("value"), { maxKeys: 4, noNullPrototype: true }),
  map: fc.array(fc.tuple(tie("value"), tie("value")), { maxLength: 3 }).map((entries) => new Map(entries)),
  set: fc.array(tie("value"), { maxLength: 3 }).map((elements) => new Set(elements)),
  error: fc
    .record({
      kind: fc.constantFrom(...Object.keys(ERRORS), "custom"),
      customName: fc.string({ maxLength: 8 }).filter((n) => !(n in ERRORS)),
      message: fc.string({ maxLength: 8 }),
      cause: fc.option(fc.record({ value: tie("value") }), { nil: undefined }),
      errors: fc.array(tie("value"), { maxLength: 2 }),
      stack: fc.oneof(fc.constant("keep"), fc.constant("delete"), fc.string({ maxLength: 8 })),
      // "name" is left out: an own `name` decides which built-in class is revived, so it would change the class.
      props: fc.dictionary(
        key.filter((k) => k !== "name"),
        tie("value"),
        { maxKeys: 3, noNullPrototype: true },
      ),
    })
    .map((r) => {
      const options = r.cause === undefined ? undefined : { cause: r.cause.value }
      const err = (ERRORS[r.kind] ?? ERRORS.Error!)(r.message, options, r.errors)
      if (r.kind === "custom") define(err, "name", r.customName, false)
      if (r.stack === "delete") delete err.stack
      else if (r.stack !== "keep") define(err, "stack", r.stack, false)
      for (const [k, v] of Object.entries(r.props)) define(err, k, v, true)
      return err
    }),
}))

// ---- round trips ----------------------------------------------------------------------------------------------

describe("jsonSerializer round trip", () => {
  it("is named durably-json-1", () => {
    expect(jsonSerializer.name).toBe("durably-json-1")
  })

  it("returns an equal value for arbitrary nested values of every supported type", () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        expect(roundTrip(v)).toStrictEqual(v)
      }),
      { numRuns: 500 },
    )
  })

  it("writes the same text again for a decoded value", () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        const text = encode(v)
        expect(encode(decode(text))).toBe(text)
      }),
      { numRuns: 300 },
    )
  })

  it("round-trips fast-check's anything with maps, sets, dates and bigints", () => {
    const values = fc.anything({ key, withMap: true, withSet: true, withDate: true, withBigInt: true, maxDepth: 3 })
    fc.assert(
      fc.property(values, (v) => {
        expect(roundTrip(v)).toStrictEqual(v)
      }),
    )
  })

  it("writes plain JSON values as JSON.stringify does", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const json = JSON.stringify(v)
        fc.pre(isDeepStrictEqual(JSON.parse(json), v) && !json.includes('"~t"')) // -0 is not plain JSON
        expect(encode(v)).toBe(json)
      }),
    )
  })

  it("writes the documented tagged forms", () => {
    expect(encode(undefined)).toBe('{"~t":"undefined"}')
    expect(encode([NaN, -0, Infinity, -Infinity])).toBe(
      '[{"~t":"number","v":"NaN"},{"~t":"number","v":"-0"},{"~t":"number","v":"Infinity"},{"~t":"number","v":"-Infinity"}]',
    )
    expect(encode(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)))).toBe('{"~t":"date","v":"2024-01-02T03:04:05.678Z"}')
    expect(encode(new Date(NaN))).toBe('{"~t":"date","v":null}')
    expect(encode(-12n)).toBe('{"~t":"bigint","v":"-12"}')
    expect(encode(new Uint8Array([104, 105]))).toBe('{"~t":"bytes","v":"aGk="}')
    expect(encode(new Map([["a", 1]]))).toBe('{"~t":"map","v":[["a",1]]}')
    expect(encode(new Set([1]))).toBe('{"~t":"set","v":[1]}')
    expect(encode({ "~t": "date", v: 1 })).toBe('{"~t":"object","v":{"~t":"date","v":1}}')
  })

  it("keeps special numbers exactly", () => {
    const out = roundTrip({ nan: NaN, negZero: -0, inf: Infinity, negInf: -Infinity, zero: 0 })
    expect(out.nan).toBeNaN()
    expect(Object.is(out.negZero, -0)).toBe(true)
    expect(Object.is(out.zero, 0)).toBe(true)
    expect(out.inf).toBe(Infinity)
    expect(out.negInf).toBe(-Infinity)
  })

  it("keeps undefined at the top level, in arrays and as property values (the key stays)", () => {
    expect(roundTrip(undefined)).toBeUndefined()
    const arr = roundTrip([undefined, 1, undefined])
    expect(arr).toHaveLength(3)
    expect(0 in arr && 2 in arr).toBe(true)
    const obj = roundTrip({ a: undefined, b: 1 })
    expect(Object.keys(obj)).toEqual(["a", "b"])
    expect(obj.a).toBeUndefined()
  })

  it("revives dates, bigints, maps, sets and bytes as their classes", () => {
    const out = roundTrip({
      at: new Date(Date.UTC(2024, 1, 29)),
      invalid: new Date("nope"),
      far: new Date(8.64e15),
      big: 2n ** 100n,
      map: new Map<unknown, unknown>([
        [{ id: 1 }, new Set([1n])],
        ["b", [new Date(0)]],
        [NaN, undefined],
      ]),
      set: new Set(["z", "a", "m"]),
      bytes: new Uint8Array([0, 255, 7]),
    })
    expect(out.at).toBeInstanceOf(Date)
    expect(out.at.toISOString()).toBe("2024-02-29T00:00:00.000Z")
    expect(Number.isNaN(out.invalid.getTime())).toBe(true)
    expect(out.far.getTime()).toBe(8.64e15)
    expect(out.big).toBe(2n ** 100n)
    expect(out.map).toBeInstanceOf(Map)
    expect([...out.map.keys()]).toEqual([{ id: 1 }, "b", NaN])
    expect(out.map.get("b")).toEqual([new Date(0)])
    expect([...out.set]).toEqual(["z", "a", "m"])
    expect(out.bytes).toBeInstanceOf(Uint8Array)
    expect([...out.bytes]).toEqual([0, 255, 7])
  })

  it("writes only a Uint8Array's own view, and revives a Buffer as a plain Uint8Array", () => {
    const backing = new Uint8Array([1, 2, 3, 4, 5])
    expect([...roundTrip(backing.subarray(1, 3))]).toEqual([2, 3])
    const fromBuffer = roundTrip(Buffer.from("hello"))
    expect(Object.getPrototypeOf(fromBuffer)).toBe(Uint8Array.prototype)
    expect(new TextDecoder().decode(fromBuffer)).toBe("hello")
  })

  it("round-trips plain objects that carry the tag key themselves", () => {
    const tricky = [
      { "~t": "undefined" },
      { "~t": "date", v: "2024-01-01T00:00:00.000Z" },
      { "~t": "object", v: { "~t": "map", v: [] } },
      { "~t": { "~t": "bigint", v: "1" }, other: undefined },
      { "~t": 1 },
    ]
    const out = roundTrip(tricky)
    expect(out).toStrictEqual(tricky)
    expect(out[1]).not.toBeInstanceOf(Date)
  })

  it("keeps keys named like Object.prototype members as plain own properties", () => {
    const value = { constructor: { x: [1] }, toString: "s", hasOwnProperty: null, valueOf: new Date(1) }
    const out = roundTrip(value)
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
    expect(Object.keys(out)).toEqual(Object.keys(value))
    expect(out.constructor).toEqual({ x: [1] })
    expect(out.valueOf).toEqual(new Date(1))
    expect(out).toEqual(value)
  })

  it("copies a shared (non-cyclic) reference", () => {
    const shared = { x: [1] }
    const out = roundTrip({ a: shared, b: shared, list: [shared, shared] })
    expect(out).toStrictEqual({ a: shared, b: shared, list: [shared, shared] })
    expect(out.a).not.toBe(out.b)
  })

  it("turns class instances into plain objects of their own enumerable properties", () => {
    class Point {
      readonly x: number
      readonly y: number
      constructor(x: number, y: number) {
        this.x = x
        this.y = y
      }
      get length() {
        return Math.hypot(this.x, this.y)
      }
      toJSON() {
        return "not used"
      }
    }
    const out = roundTrip({ p: new Point(3, 4), [Symbol("skipped")]: 1 })
    expect(out).toStrictEqual({ p: { x: 3, y: 4 } })
    expect(Object.getPrototypeOf(out.p)).toBe(Object.prototype)
    const bare = Object.create(null) as Record<string, unknown>
    bare.a = 1
    expect(Object.getPrototypeOf(roundTrip(bare))).toBe(Object.prototype)
    expect(roundTrip(bare)).toEqual({ a: 1 })
  })
})

describe("jsonSerializer and __proto__", () => {
  const evil = () => {
    const o: Record<string, unknown> = { before: 1 }
    define(o, "__proto__", { polluted: true }, true)
    o.after = new Date(0) // forces the object to be copied while encoding
    return o
  }

  it("keeps a __proto__ key as an own property and never sets a prototype", () => {
    for (const value of [evil(), [evil()], new Map([["k", evil()]]), { "~t": 1, ...evil() }]) {
      const text = encode(value)
      expect(text).toContain('"__proto__":{"polluted":true}')
      const out = decode(text)
      expect(out).toStrictEqual(value)
    }
    const out = roundTrip(evil())
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
    expect(Object.hasOwn(out, "__proto__")).toBe(true)
    expect((out as { polluted?: unknown }).polluted).toBeUndefined()
  })

  it("cannot be polluted by hostile text", () => {
    const texts = [
      '{"__proto__":{"polluted":true},"d":{"~t":"date","v":null}}',
      '{"~t":"object","v":{"__proto__":{"polluted":true},"~t":{"~t":"undefined"}}}',
      '{"~t":"error","v":{"name":"Error","message":"m","props":{"__proto__":{"polluted":true}}}}',
      '{"~t":"map","v":[["__proto__",{"__proto__":{"polluted":true}}]]}',
      '{"constructor":{"prototype":{"polluted":true}}}',
    ]
    for (const text of texts) {
      const out = decode(text) as object
      expect(Object.getPrototypeOf(out)).not.toHaveProperty("polluted")
    }
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty("polluted")
    const err = decode(texts[2]!) as Error
    expect(err).toBeInstanceOf(Error)
    expect(Object.hasOwn(err, "__proto__")).toBe(true)
  })
})

describe("jsonSerializer and errors", () => {
  it("keeps name, message, stack, cause and own properties", () => {
    const root = Object.assign(new RangeError("too far", { cause: { code: 7 } }), { code: "E_FAR", _tag: "Far" })
    const err = new Error("outer", { cause: root })
    const out = roundTrip(err)
    expect(out).toBeInstanceOf(Error)
    expect(out.message).toBe("outer")
    expect(out.stack).toBe(err.stack)
    expect(Object.prototype.propertyIsEnumerable.call(out, "cause")).toBe(false)
    const cause = out.cause as RangeError & { code: string; _tag: string }
    expect(cause).toBeInstanceOf(RangeError)
    expect(cause.stack).toBe(root.stack)
    expect(cause.code).toBe("E_FAR")
    expect(cause._tag).toBe("Far")
    expect(cause.cause).toStrictEqual({ code: 7 })
    expect(Object.keys(cause)).toEqual(["code", "_tag"])
  })

  it("revives the built-in classes by name", () => {
    for (const E of [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
      const out = roundTrip(new E("m"))
      expect(out).toBeInstanceOf(E)
      expect(Object.hasOwn(out, "name")).toBe(false)
    }
    const agg = roundTrip(new AggregateError([new TypeError("a"), 1], "both"))
    expect(agg).toBeInstanceOf(AggregateError)
    expect(agg.errors[0]).toBeInstanceOf(TypeError)
    expect(agg.errors).toStrictEqual([new TypeError("a"), 1].map((e, i) => (i === 0 ? agg.errors[0] : e)))
    expect((agg.errors[0] as Error).message).toBe("a")
  })

  it("keeps the fields of a subclass but not its class", () => {
    class HttpError extends Error {
      override name = "HttpError"
      readonly status: number
      constructor(status: number) {
        super(`status ${status}`)
        this.status = status
      }
    }
    const out = roundTrip(new HttpError(404))
    expect(out).toBeInstanceOf(Error)
    expect(out).not.toBeInstanceOf(HttpError)
    expect(out).toMatchObject({ name: "HttpError", message: "status 404", status: 404 })
  })

  it("keeps an Effect tagged error's tag, fields and computed message", () => {
    const original = new SerializationError({ reason: "nope", path: "$.a" })
    const out = decode(encode(original)) as Error & Record<string, unknown>
    expect(out).not.toBeInstanceOf(SerializationError)
    expect(out.name).toBe(original.name)
    expect(out.message).toBe(original.message)
    expect(out.stack).toBe(original.stack)
    expect({ ...out }).toStrictEqual({ reason: "nope", path: "$.a", _tag: "SerializationError" })
    class Custom extends Data.TaggedError("Custom")<{ readonly n: bigint; readonly at: Date }> {}
    const c = decode(encode(new Custom({ n: 1n, at: new Date(5) })))
    expect(c).toMatchObject({ _tag: "Custom", n: 1n, at: new Date(5) })
  })

  it("keeps an explicitly undefined cause and a missing stack", () => {
    const withUndefinedCause = roundTrip(new Error("x", { cause: undefined }))
    expect(Object.hasOwn(withUndefinedCause, "cause")).toBe(true)
    expect(Object.hasOwn(roundTrip(new Error("x")), "cause")).toBe(false)
    const noStack = new Error("x")
    delete noStack.stack
    expect(roundTrip(noStack).stack).toBeUndefined()
  })

  it("detects a changed stack in these tests (the comparison is not vacuous)", () => {
    const a = new Error("x")
    const b = new Error("x")
    define(b, "stack", "elsewhere", false)
    expect(() => expect(a).toStrictEqual(b)).toThrow()
    expect(() =>
      expect(
        new Map([
          [1, 1],
          [2, 2],
        ]),
      ).toStrictEqual(
        new Map([
          [2, 2],
          [1, 1],
        ]),
      ),
    ).toThrow()
  })
})

// ---- failures -------------------------------------------------------------------------------------------------

describe("jsonSerializer refuses", () => {
  const cases: ReadonlyArray<[string, () => unknown, string, RegExp]> = [
    ["a function in an array", () => ({ items: [1, 2, { callback() {} }] }), "$.items[2].callback", /function/],
    ["a function at the top", () => () => 1, "$", /function/],
    ["a function under a weird key", () => ({ "weird key": [() => 1] }), '$["weird key"][0]', /function/],
    ["a symbol value", () => ({ s: Symbol("x") }), "$.s", /symbol/],
    ["a function in a Map value", () => ({ m: new Map([["k", { f: () => 0 }]]) }), "$.m<map>[0].value.f", /function/],
    [
      "a function as a Map key",
      () =>
        new Map<unknown, unknown>([
          [1, 1],
          [() => 0, 2],
        ]),
      "$<map>[1].key",
      /function/,
    ],
    ["a symbol in a Set", () => ({ s: new Set([1, Symbol()]) }), "$.s<set>[1]", /symbol/],
    ["a function in an error cause", () => new Error("x", { cause: { fn() {} } }), "$.cause.fn", /function/],
    ["a function as an error property", () => Object.assign(new Error("x"), { retry() {} }), "$.retry", /function/],
    ["a Promise", () => ({ p: Promise.resolve(1) }), "$.p", /Promise/],
    ["a WeakMap", () => ({ w: new WeakMap() }), "$.w", /WeakMap/],
    ["a WeakSet", () => ({ w: new WeakSet() }), "$.w", /WeakSet/],
    ["a function in a tagged-looking object", () => ({ "~t": "x", f() {} }), "$.f", /function/],
  ]
  for (const [what, make, path, reason] of cases) {
    it(`${what}, at ${path}`, () => {
      const err = failureOf(() => encode(make()))
      expect(err.path).toBe(path)
      expect(err.reason).toMatch(reason)
      expect(err._tag).toBe("SerializationError")
      expect(err.message).toContain(path)
    })
  }

  it("a cycle, at the reference that closes it", () => {
    const a: Record<string, unknown> = { b: { c: [] as unknown[] } }
    ;(a.b as { c: unknown[] }).c.push(a)
    const err = failureOf(() => encode(a))
    expect(err.path).toBe("$.b.c[0]")
    expect(err.reason).toBe("circular reference (back to $)")

    const inner: Record<string, unknown> = { x: 1 }
    inner.self = inner
    const err2 = failureOf(() => encode({ list: [0, inner] }))
    expect(err2.path).toBe("$.list[1].self")
    expect(err2.reason).toBe("circular reference (back to $.list[1])")
  })

  it("cycles through maps, sets and errors", () => {
    const m = new Map<string, unknown>()
    m.set("self", m)
    expect(failureOf(() => encode(m)).path).toBe("$<map>[0].value")
    const s = new Set<unknown>()
    s.add(s)
    expect(failureOf(() => encode({ s })).path).toBe("$.s<set>[0]")
    const e = new Error("loop")
    e.cause = e
    const err = failureOf(() => encode(e))
    expect(err.path).toBe("$.cause")
    expect(err.reason).toMatch(/circular reference/)
  })

  it("ignores symbol keys instead of failing", () => {
    expect(roundTrip({ a: 1, [Symbol("k")]: () => 0 })).toStrictEqual({ a: 1 })
  })

  it("text that is not JSON or not a valid encoding", () => {
    expect(failureOf(() => decode("{nope")).path).toBe("$")
    const unknownTag = failureOf(() => decode('{"a":[{"~t":"mystery"}]}'))
    expect(unknownTag.path).toBe("$.a[0]")
    expect(unknownTag.reason).toMatch(/unknown type tag "mystery"/)
    expect(failureOf(() => decode('{"n":{"~t":"bigint","v":"1.5"}}')).path).toBe("$.n")
    expect(failureOf(() => decode('{"~t":"map","v":[[1]]}')).reason).toMatch(/map entry 0/)
    expect(failureOf(() => decode('{"~t":"number","v":"42"}')).reason).toMatch(/malformed number/)
    expect(failureOf(() => decode('{"e":{"~t":"error","v":{"errors":{}}}}')).path).toBe("$.e")
  })
})
