/** Every command of `durably`, and the groups they are listed under. */
import type { Command, Group } from "../command.ts"
import { dashboardCommand } from "./dashboard.ts"
import { migrateCommand } from "./migrate.ts"
import {
  schedulesBackfillCommand,
  schedulesGetCommand,
  schedulesListCommand,
  schedulesPauseCommand,
  schedulesResumeCommand,
  schedulesTriggerCommand,
} from "./schedules.ts"
import { executorsCommand, queuesCommand } from "./operate.ts"
import { cancelCommand, deleteCommand, forkCommand, pruneCommand, resumeCommand } from "./workflowsAct.ts"
import { countCommand, getCommand, listCommand, stepsCommand, strandedCommand } from "./workflowsRead.ts"

export const commands: ReadonlyArray<Command> = [
  migrateCommand,
  listCommand,
  countCommand,
  getCommand,
  stepsCommand,
  cancelCommand,
  resumeCommand,
  forkCommand,
  deleteCommand,
  pruneCommand,
  strandedCommand,
  queuesCommand,
  executorsCommand,
  schedulesListCommand,
  schedulesGetCommand,
  schedulesPauseCommand,
  schedulesResumeCommand,
  schedulesTriggerCommand,
  schedulesBackfillCommand,
  dashboardCommand,
]

export const groups: ReadonlyArray<Group> = [
  { name: "workflows", summary: "durably workflows: find, inspect and act on workflows" },
  { name: "schedules", summary: "durably schedules: cron schedules stored in the database" },
]
