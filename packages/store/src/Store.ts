/**
 * Every repository and the event log, over a SQL client: what a node, a
 * benchmark or a test that works with stored records provides. Needs a
 * `LogWaker` (what to do after a commit that appended events).
 */
import { Layer } from "effect"
import { AccountRepo } from "./AccountRepo.js"
import * as BlobStore from "./BlobStore.js"
import { DataRightsRepo } from "./DataRightsRepo.js"
import { EventLog } from "./EventLog.js"
import { FileRepo } from "./FileRepo.js"
import { InvitationRepo } from "./InvitationRepo.js"
import { MessageRepo } from "./MessageRepo.js"
import { OidcRepo } from "./OidcRepo.js"
import { OrgRepo } from "./OrgRepo.js"
import { PinRepo } from "./PinRepo.js"
import { RoomRepo } from "./RoomRepo.js"
import { RunRepo } from "./RunRepo.js"
import { ScheduleRepo } from "./ScheduleRepo.js"
import { TaskRepo } from "./TaskRepo.js"
import { TeammateRepo } from "./TeammateRepo.js"

/** All repositories, the event log and the file store. */
export const layer = Layer.mergeAll(
  AccountRepo.Default,
  OrgRepo.Default,
  InvitationRepo.Default,
  RoomRepo.Default,
  MessageRepo.Default,
  PinRepo.Default,
  TeammateRepo.Default,
  RunRepo.Default,
  EventLog.Default,
  FileRepo.Default,
  TaskRepo.Default,
  ScheduleRepo.Default,
  OidcRepo.Default,
  DataRightsRepo.Default
).pipe(Layer.provideMerge(BlobStore.layerConfig))
