/**
 * A randomized, seeded race on the store: workflows become runnable by every path (started, enqueued and
 * allowed by the limits, delayed and due, released by a completion that frees a slot, released by the cancel
 * of a sibling, taken over from an executor that fell silent, released by another executor's shutdown) while
 * sends, getEvent, status reads, cancels and completions hit the same rows at once. Each workflow must start
 * within the bound the README states for its path: a claim that leaves startable work behind is followed by
 * another within `relookMs` (5 s), and a claim never skips a row only because another statement holds it; a
 * silent executor's workflow starts elsewhere within its lease plus the taker's heartbeat interval; a
 * released one at the taker's next heartbeat (once the taker has been up for one lease).
 *
 * The seed is printed on failure; set DURABLY_RACE_SEED to replay one, DURABLY_RACE_ROUNDS for more rounds.
 */
import assert from "node:assert/strict"
import { Effect } from "effect"
import { Durably } from "../Durably.ts"
import { StoreError } from "../errors.ts"
import { queueConfig, type DispatcherFactory, type QueueDefinition, type QueueSettings } from "../queues.ts"
import type { Store } from "../store/Store.ts"
import { defineWorkflow } from "../workflow.ts"
import type { ContractTest } from "./contract.ts"

/** The bound the README states (`relookMs` of `@durably/scheduler`). */
const boundMs = 5_000
/** Room for a loaded 2-core machine on top of the bound. */
const slackMs = 10_000
/** The engine that serves the queues and takes work over: it beats often, so takeovers come soon. */
const takerBeat = { interval: 250, lease: 3_000 }
/** The second process's executors (one falls silent, one shuts down): a short lease, so takeovers come soon. */
const otherBeat = { interval: 100, lease: 1_000 }

/**
 * The dispatch protocol of `@durably/scheduler` in its smallest form (that package depends on this one):
 * claim on a wake-up or freed room, again at `retryAt`, and `boundMs` after a claim that reported waiting work.
 * It has no other timer, so work the store strands without saying so stays stranded and the case fails.
 */
const protocol: DispatcherFactory = (host, queues) => {
  const stop = new AbortController()
  const busy = new Map<string, Promise<void>>()
  const again = new Set<string>()
  const later = (q: string, at: number) =>
    host.sleep(Math.max(1, at - host.now()), stop.signal).then(
      () => wake(q),
      () => undefined,
    )
  const wake = (q: string): void => {
    if (stop.signal.aborted) return
    if (busy.has(q)) return void again.add(q)
    const claim = host
      .claim(q, host.room())
      .then(({ retryAt, waiting }) => {
        if (retryAt !== undefined) void later(q, retryAt)
        if (waiting) void later(q, host.now() + boundMs)
      })
      .catch(() => void later(q, host.now() + 200))
      .finally(() => {
        busy.delete(q)
        if (again.delete(q)) wake(q)
      })
    busy.set(q, claim)
  }
  const offs = queues.map((q) => host.subscribe(q.name, () => wake(q.name)))
  const off = host.onFreed((q) => q !== undefined && wake(q))
  for (const q of queues) wake(q.name)
  return {
    stop: async () => {
      stop.abort()
      offs.forEach((o) => o())
      off()
      await Promise.all(busy.values())
    },
  }
}

const queueOf = (name: string, settings: QueueSettings): QueueDefinition => ({
  _tag: "QueueDefinition",
  name,
  config: queueConfig(name, settings),
  dispatcher: protocol,
})

/** mulberry32: small, seedable, good enough to shuffle timings. */
const random = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const envNumber = (name: string): number | undefined => {
  const v = typeof process === "undefined" ? undefined : process.env[name]
  return v === undefined || v === "" ? undefined : Number(v)
}

const until = async (check: () => boolean, what: () => string, ms: number) => {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

export const racesScenarios: Record<string, ContractTest> = {
  "randomized races: every runnable workflow starts within the bound while others hit its row": async ({
    store,
    id,
    another,
  }) => {
    const seed = envNumber("DURABLY_RACE_SEED") ?? Math.floor(Math.random() * 2 ** 31)
    const rounds = envNumber("DURABLY_RACE_ROUNDS") ?? 6
    const rng = random(seed)
    const jitter = () => new Promise((r) => setTimeout(r, Math.floor(rng() * 4)))

    /** When each workflow first ran a step body anywhere, and on which executors it ran one (first time each). */
    const startedAt = new Map<string, number>()
    const startedOn = new Map<string, Array<{ readonly tag: string; readonly at: number }>>()
    const seen = (key: string, tag: string) => {
      const now = Date.now()
      if (!startedAt.has(key)) startedAt.set(key, now)
      const on = startedOn.get(key) ?? []
      if (!on.some((s) => s.tag === tag)) startedOn.set(key, [...on, { tag, at: now }])
    }
    const ranOn = (key: string, tag: string) => startedOn.get(key)?.some((s) => s.tag === tag) ?? false
    // A workflow's start step may be running on two executors at once (the silent one and its taker).
    const holds = new Map<string, Array<() => void>>()
    const held = (wid: string) => new Promise<void>((r) => holds.set(wid, [...(holds.get(wid) ?? []), r]))
    const release = (wid: string) => holds.get(wid)?.forEach((r) => r())
    // One definition per executor, all with one name: each says where its bodies ran.
    const racer = (tag: string) =>
      defineWorkflow(id("racer"), async (ctx, key: string) => {
        await ctx.step("start", async () => {
          seen(key, tag)
          await held(key)
        })
        return ctx.step("end", () => {
          seen(key, tag)
          return key
        })
      })
    const wf = racer("taker")
    const limited = queueOf(id("one"), { concurrency: 1 })
    const siblings = queueOf(id("sib"), { concurrency: 1 })
    const open = queueOf(id("open"), {})
    const parted = queueOf(id("parted"), { partition: { concurrency: 1 } })
    const durably = await Durably.launch({
      store,
      workflows: [wf],
      executorId: id("exec"),
      queues: [limited, siblings, open, parted],
      heartbeat: takerBeat,
      logger: false,
    })
    // It takes over others' work only once it has been up for one lease (until then every lease looks expired).
    const takerReadyAt = Date.now() + takerBeat.lease
    /** The second process: executors that run one workflow each, serve no queue, and then go away. */
    const second = await another()
    const others: Durably[] = []
    const launchOther = async (tag: string, store: Store) => {
      const def = racer(tag)
      // Closing is the test's business: the engines share the second process's store.
      const engine = await Durably.launch({
        store: { ...store, close: () => Effect.void },
        workflows: [def],
        executorId: id(tag),
        heartbeat: otherBeat,
        logger: false,
      })
      others.push(engine)
      return { engine, def }
    }
    const errors: unknown[] = []
    /** Statements that race on a workflow's row: sends, getEvent, status reads. */
    const poke = (wid: string) =>
      (async () => {
        const ops = [
          () => durably.send(wid, "poke", rng()),
          () => durably.getEvent(wid, "k", { timeout: 1 }),
          () => durably.handle(wid).status(),
          () => durably.send(wid, "poke", rng()),
        ]
        for (const op of ops.sort(() => rng() - 0.5)) {
          await jitter()
          await op()
        }
      })().catch((e) => errors.push(e))

    try {
      for (let round = 0; round < rounds; round++) {
        const key = (s: string) => `${id(s)}-${round}`
        /**
         * When each became runnable (by the test's clock, before the statement that made it so), its path's
         * bound, and the executor it must start away from (one that fell silent or shut down).
         */
        const runnable = new Map<
          string,
          { readonly at: number; readonly boundMs: number; readonly awayFrom?: string }
        >()
        const runnableAt = (k: string, at: number) => runnable.set(k, { at, boundMs })
        /** When it started where it had to, if it has. */
        const startOf = (k: string) => {
          const away = runnable.get(k)?.awayFrom
          return away === undefined ? startedAt.get(k) : startedOn.get(k)?.find((s) => s.tag !== away)?.at
        }
        const pokes: Promise<unknown>[] = []
        /** Starts workflow `k` on a second-process executor `tag` (poked meanwhile); resolves once it runs there. */
        const startAway = async (k: string, tag: string, store: Store) => {
          const { engine, def } = await launchOther(tag, store)
          const h = await engine.start(def, k, { id: k })
          pokes.push(poke(h.id))
          await until(
            () => ranOn(k, tag),
            () => `${k} to start on ${tag} (seed ${seed})`,
            boundMs + slackMs,
          )
          await jitter()
          return engine
        }
        const enqueue = async (q: QueueDefinition, k: string, delayMs?: number, partitionKey?: string) => {
          const at = Date.now()
          const h = await durably.enqueue(q, wf, k, {
            id: k,
            ...(delayMs === undefined ? {} : { delay: delayMs }),
            ...(partitionKey === undefined ? {} : { partitionKey }),
          })
          pokes.push(poke(h.id))
          return { at, h }
        }
        const wait = (keys: string[], what: string) =>
          until(
            () => keys.every((k) => startOf(k) !== undefined),
            () => `${what} (round ${round}, seed ${seed}): ${keys.filter((k) => startOf(k) === undefined).join(", ")}`,
            Math.max(...keys.map((k) => runnable.get(k)?.boundMs ?? boundMs)) + slackMs,
          )

        const paths = [
          // Started directly.
          async () => {
            const k = key("started")
            runnableAt(k, Date.now())
            const h = await durably.start(wf, k, { id: k })
            pokes.push(poke(h.id))
          },
          // Enqueued and allowed by the limits; the next one released by its completion.
          async () => {
            const first = key("slot")
            const next = key("freed")
            runnableAt(first, (await enqueue(limited, first)).at)
            await enqueue(limited, next)
            await wait([first], "the first of a concurrency-1 queue")
            await jitter()
            runnableAt(next, Date.now())
            release(first)
          },
          // Enqueued on a partitioned queue, each partition's limit allowing it (the claim that may report waiting).
          async () => {
            const ks = [key("part-a"), key("part-b"), key("part-c")]
            for (const [i, k] of ks.entries()) runnableAt(k, (await enqueue(parted, k, undefined, `p${i}`)).at)
          },
          // A partition's next workflow, released by the cancel of its enqueued sibling racing the claim.
          async () => {
            const first = key("part-cancelled")
            const next = key("part-next")
            await enqueue(parted, first, undefined, "px")
            await enqueue(parted, next, undefined, "px")
            await jitter()
            runnableAt(next, Date.now())
            await durably.cancel(first)
            release(first)
          },
          // Delayed, then due.
          async () => {
            const k = key("delayed")
            const delay = Math.floor(rng() * 300)
            runnableAt(k, (await enqueue(open, k, delay)).at + delay)
          },
          // Released by the cancel of a running sibling.
          async () => {
            const first = key("cancelled")
            const next = key("after-cancel")
            await enqueue(siblings, first)
            await enqueue(siblings, next)
            await wait([first], "the sibling to be cancelled")
            await jitter()
            runnableAt(next, Date.now())
            await durably.cancel(first)
            release(first)
          },
          // Taken over: its executor falls silent (every heartbeat fails) while the workflow runs a step there.
          async () => {
            const k = key("taken-over")
            const tag = `silent-${round}`
            let silent = false
            await startAway(k, tag, {
              ...second,
              heartbeat: (beat) =>
                silent
                  ? Effect.fail(new StoreError({ operation: "heartbeat", cause: new Error("silent"), retryable: true }))
                  : second.heartbeat(beat),
            })
            // Its last heartbeat was no later than now: its lease runs out within one lease from here.
            runnable.set(k, {
              at: Math.max(Date.now(), takerReadyAt),
              boundMs: otherBeat.lease + takerBeat.interval,
              awayFrom: tag,
            })
            silent = true
          },
          // Released by a shutdown whose drain time is up while its step still runs there (a drained step
          // would let the workflow go on to its end there first): the step's result is dropped, and the
          // workflow runs again elsewhere.
          async () => {
            const k = key("released")
            const tag = `leaver-${round}`
            const engine = await startAway(k, tag, second)
            await engine.shutdown({ timeout: 0 })
            runnable.set(k, { at: Math.max(Date.now(), takerReadyAt), boundMs: takerBeat.interval, awayFrom: tag })
          },
        ].sort(() => rng() - 0.5)
        await Promise.all(paths.map((p) => jitter().then(p)))
        const keys = [...runnable.keys()]
        await wait(keys, "runnable workflows to start")
        for (const k of keys) {
          const { at, boundMs: bound } = runnable.get(k)!
          const late = startOf(k)! - at
          assert.ok(
            late <= bound + slackMs,
            `${k} started ${late} ms after it became runnable, bound ${bound} ms (seed ${seed})`,
          )
        }
        await Promise.all(pokes)
        assert.deepEqual(errors, [], `racing statements failed (seed ${seed})`)
        // End the round: everything still held finishes, so the next round starts with free slots.
        for (const k of keys) release(k)
        for (const k of keys) {
          const status = await durably
            .handle(k)
            .result()
            .then(
              () => "SUCCESS",
              () => "ERROR",
            )
          if (!k.endsWith(`cancelled-${round}`)) assert.equal(status, "SUCCESS", `${k} (seed ${seed})`)
        }
        // The silent executor's execution, let go, is refused its checkpoint and stops.
        for (const o of others.splice(0)) await o.shutdown()
      }
    } catch (e) {
      console.error(`randomized races failed; replay with DURABLY_RACE_SEED=${seed}`)
      throw e
    } finally {
      for (const rs of holds.values()) rs.forEach((r) => r())
      for (const o of others) await o.shutdown()
      await durably.shutdown()
    }
  },
}
