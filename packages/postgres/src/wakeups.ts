/**
 * Wake-ups for every subscriber of a store, multiplexed: one registry keyed by (kind, workflow, name), fed by
 * whichever source hears about writes.
 *
 * - Notifications (Postgres): one LISTEN connection per store; each write sends a NOTIFY in its own
 *   transaction, so a subscriber hears about it once it committed, whichever process wrote it.
 * - In-process (PGlite, or Postgres while LISTEN is down): the store announces its own writes after they
 *   commit.
 * - Polling, only while notifications are not heard (disabled, not yet listening, connection lost) and
 *   something is subscribed: one batched query every `pollMs` reads a fingerprint of each subscribed key
 *   and wakes the keys whose fingerprint changed. A key seen for the first time wakes when there is
 *   something to see (a waiting message, a set event, a finished workflow …), since a write may have
 *   slipped in between its subscription and that first look.
 *
 * Whenever LISTEN (re)starts, one such pass catches up on whatever happened while nobody listened.
 * Wake-ups are hints: subscribers always re-read.
 */
import type { Wake } from "@durably/core"
import { keyOf, parsePayload, wakeParts, type WakeLetter } from "./notify.ts"

/** Called with the new status for status wakes, with nothing otherwise. */
export type WakeListener = (detail: string | undefined) => void

export interface ListenHandlers {
  /** A notification on the store's channel. */
  readonly payload: (payload: string) => void
  /** LISTEN is in effect (again): notifications will be heard from now on. */
  readonly up: () => void
  /** The listening connection was lost: notifications are not heard until the next `up`. */
  readonly down: () => void
}

/** A LISTEN connection (started on the first subscription, kept until close). */
export interface ListenSource {
  readonly start: (handlers: ListenHandlers) => void
  readonly close: () => Promise<void>
}

export type WakeParts = readonly [WakeLetter, string, string]

export interface WakeupOptions {
  /** Fingerprints of these keys, in order (null: nothing there yet). */
  readonly fetch: (keys: ReadonlyArray<WakeParts>) => Promise<ReadonlyArray<string | null>>
  /** How often to poll while notifications are not heard; undefined: never (every write is in-process). */
  readonly pollMs?: number
  readonly listen?: ListenSource
}

export interface Wakeups {
  readonly subscribe: (wake: Wake, listener: WakeListener) => () => void
  /** A write this process committed: wakes its subscribers here, unless a notification will. */
  readonly local: (wake: Wake, detail?: string) => void
  readonly close: () => Promise<void>
}

interface Entry {
  readonly parts: WakeParts
  readonly listeners: Set<WakeListener>
  /** The fingerprint at the last poll; undefined: not looked at since notifications were last heard. */
  known: string | null | undefined
}

/** Wait before a failed catch-up pass is tried again, when the store does not poll. */
const defaultRetryMs = 1000

const activeStatuses = new Set(["ENQUEUED", "DELAYED", "PENDING"])

/** Whether a first sighting shows something a subscriber may have missed. */
const somethingThere = (letter: WakeLetter, value: string | null) =>
  value !== null && !(letter === "s" && activeStatuses.has(value))

export const makeWakeups = (options: WakeupOptions): Wakeups => {
  const entries = new Map<string, Entry>()
  let listening = false
  let started = false
  let closed = false
  let timer: NodeJS.Timeout | undefined
  let polling = false
  let pollAgain = false

  const fire = (entry: Entry, detail: string | undefined) => {
    const listeners = [...entry.listeners]
    queueMicrotask(() => {
      for (const listener of listeners)
        try {
          listener(detail)
        } catch {
          // A listener's failure is its own; the others are still told.
        }
    })
  }

  const schedule = () => {
    if (options.pollMs === undefined || listening || closed || timer || entries.size === 0) return
    timer = setTimeout(() => {
      timer = undefined
      void poll()
    }, options.pollMs)
    timer.unref()
  }

  const poll = async (): Promise<void> => {
    if (polling) {
      pollAgain = true
      return
    }
    if (closed || entries.size === 0) return
    polling = true
    let failed = false
    try {
      const looked = [...entries]
      const values = await options.fetch(looked.map(([, e]) => e.parts))
      looked.forEach(([key, entry], i) => {
        const value = values[i] ?? null
        if (entries.get(key) !== entry) return // unsubscribed meanwhile
        const first = entry.known === undefined
        if (!first && entry.known === value) return
        entry.known = value
        if (!first || somethingThere(entry.parts[0], value))
          fire(entry, entry.parts[0] === "s" ? (value ?? undefined) : undefined)
      })
    } catch {
      // The next poll tries again; writes report store trouble where it matters.
      failed = true
    } finally {
      polling = false
      if (pollAgain) {
        pollAgain = false
        void poll()
      } else if (failed && listening) retryCatchUp()
      else schedule()
    }
  }

  /**
   * A catch-up pass that failed (the database just came back: the LISTEN connection is new, the pool's other
   * connections may still be dead) is tried again: notifications sent while nobody listened are lost, and
   * without this pass a subscriber would sleep until its own slow safety-net look.
   */
  const retryCatchUp = () => {
    if (closed || timer || entries.size === 0) return
    timer = setTimeout(() => {
      timer = undefined
      void poll()
    }, options.pollMs ?? defaultRetryMs)
    timer.unref()
  }

  /** Look at every subscription afresh, as first sightings. */
  const catchUp = () => {
    for (const entry of entries.values()) entry.known = undefined
    void poll()
  }

  const handlers: ListenHandlers = {
    payload: (payload) => {
      const notice = parsePayload(payload)
      if (!notice || closed) return
      if (notice._tag === "All") return catchUp()
      const entry = entries.get(notice.key)
      if (entry) fire(entry, notice.detail)
    },
    up: () => {
      if (closed) return
      listening = true
      clearTimeout(timer)
      timer = undefined
      catchUp()
    },
    down: () => {
      if (closed) return
      listening = false
      for (const entry of entries.values()) entry.known = undefined
      schedule()
    },
  }

  return {
    subscribe: (wake, listener) => {
      const parts = wakeParts(wake)
      const key = keyOf(...parts)
      let entry = entries.get(key)
      if (!entry) entries.set(key, (entry = { parts, listeners: new Set(), known: undefined }))
      const mine = entry
      mine.listeners.add(listener)
      if (options.listen && !started && !closed) {
        started = true
        options.listen.start(handlers)
      }
      schedule()
      return () => {
        mine.listeners.delete(listener)
        if (mine.listeners.size === 0 && entries.get(key) === mine) entries.delete(key)
        if (entries.size === 0 && timer) {
          clearTimeout(timer)
          timer = undefined
        }
      }
    },
    local: (wake, detail) => {
      if (listening || closed) return
      const entry = entries.get(keyOf(...wakeParts(wake)))
      if (entry) fire(entry, detail)
    },
    close: async () => {
      closed = true
      clearTimeout(timer)
      entries.clear()
      await options.listen?.close()
    },
  }
}
