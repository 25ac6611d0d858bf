/** Every command of `durably`, and the groups they are listed under. */
import type { Command, Group } from "../command.ts"
import { migrateCommand } from "./migrate.ts"

export const commands: ReadonlyArray<Command> = [migrateCommand]

export const groups: ReadonlyArray<Group> = []
