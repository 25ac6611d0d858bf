/**
 * @durably/postgres — Durably on Postgres: `postgresStore({ url })` (postgres.js), the migrator, and
 * `transaction(ctx, name, fn)` for database work that commits together with its checkpoint. The embedded,
 * zero-setup store is at `@durably/postgres/embedded`.
 */
export { postgresStore, type PostgresStoreOptions } from "./postgresStore.ts"
export { migrate, migrations, MigrationError, type Migration, type MigrateResult } from "./migrate.ts"
export { failureKind, type FailureKind } from "./errors.ts"
export { transaction, type SqlTransaction, type TransactionOptions } from "./transaction.ts"
