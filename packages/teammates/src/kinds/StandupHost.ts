/**
 * An example of a teammate kind defined in code: a stand-up host with a
 * Schema-typed tool of its own that records each person's update in its
 * long-term memory. Part of the built-in catalog (`Catalog.layerBuiltIn`).
 */
import type { TeammateRepo } from "@troupe/store/TeammateRepo"
import { Effect, Schema } from "effect"
import { defineTeammate, tool } from "../Kind.js"

const StandupUpdate = Schema.Struct({
  person: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(80)),
  yesterday: Schema.String.pipe(Schema.maxLength(1000)),
  today: Schema.String.pipe(Schema.maxLength(1000)),
  blockers: Schema.String.pipe(Schema.maxLength(1000))
})

/** Builds the stand-up host kind; its tool writes through the teammate repository (or a stand-in for it). */
export const StandupHost = (teammates: Pick<TeammateRepo, "remember">) =>
  defineTeammate({
    template: "standup-host",
    name: "Stella",
    handle: "stella",
    role: "Stand-up host",
    personality: "Upbeat and brisk; keeps stand-ups under five minutes.",
    instructions:
      "Run the daily stand-up: ask each person for yesterday, today and blockers. Record every update with the " +
      "record_standup tool, then post a short summary with blockers first.",
    tools: ["recall", "pin_note", "update_pin"],
    busyPolicy: "merge",
    extraTools: [
      tool({
        name: "record_standup",
        description: "Record one person's stand-up update (yesterday, today, blockers).",
        parameters: StandupUpdate,
        handler: (u, ctx) =>
          teammates.remember(
            ctx.orgId,
            ctx.teammateId,
            `Stand-up ${
              new Date().toISOString().slice(0, 10)
            } ${u.person}: yesterday ${u.yesterday}; today ${u.today}; blockers ${u.blockers || "none"}`,
            { messageId: ctx.sourceMessageId, roomId: ctx.roomId }
          ).pipe(Effect.map((entry) => ({ recorded: entry.id })), Effect.orDie)
      })
    ]
  })
