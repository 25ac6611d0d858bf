/**
 * @durably/core/testing — unit-test workflows without a database or real time, and check any Store
 * implementation against the contract every store must meet.
 */
export { testEngine, type ReplayReport, type TestEngine, type TestEngineOptions } from "./testing/testEngine.ts"
export { VirtualClock } from "./testing/VirtualClock.ts"
export { storeContract, type ContractCase, type ContractOptions, type ContractTest } from "./testing/contract.ts"
