import { describe, it } from "vitest"
import { memoryStore } from "../src/index.ts"
import { storeContract } from "../src/testing.ts"

storeContract({ name: "memory", makeStore: () => memoryStore(), describe, it })
