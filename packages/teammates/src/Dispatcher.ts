/**
 * Turns messages into teammate triggers: @mentions of teammates in the room,
 * every message in a direct room with a teammate, hand-offs between
 * teammates, and (in rooms set to `auto`) the router's choice. Each trigger
 * is recorded with an id derived from the message and the teammate, then
 * sent to the teammate's entity as a persisted message: sending twice is
 * harmless.
 */
import { Audience, MentionUnanswered, RoutingDecided } from "@troupe/domain/Event"
import { type OrgId, type RoomId, TeammateId, UserId } from "@troupe/domain/Ids"
import type { Message } from "@troupe/domain/Message"
import type { RoomInfo } from "@troupe/domain/Room"
import type { Teammate } from "@troupe/domain/Teammate"
import { EventLog, type PendingEvent } from "@troupe/store/EventLog"
import { withOrg } from "@troupe/store/OrgScope"
import { RunRepo, type Trigger } from "@troupe/store/RunRepo"
import { stableUuid } from "@troupe/store/Secrets"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import { Effect } from "effect"
import { route } from "./Router.js"
import { TeammateEntity } from "./TeammateEntity.js"

/** A stable UUID for (message, teammate), so a repeated dispatch is the same trigger. */
export const triggerId = (messageId: string, teammateId: string) => stableUuid(`${messageId}/${teammateId}`)

/** How deep a chain of hand-offs may go. */
export const MAX_HANDOFF_DEPTH = 3

/** Decides and sends triggers. */
export class Dispatcher extends Effect.Service<Dispatcher>()("@troupe/teammates/Dispatcher", {
  effect: Effect.gen(function*() {
    const teammates = yield* TeammateRepo
    const runs = yield* RunRepo
    const log = yield* EventLog
    const client = yield* TeammateEntity.client

    /** Sends a recorded trigger to its teammate (a persisted cluster message). */
    const send = Effect.fn("Dispatcher.send")(function*(t: Trigger) {
      yield* client(t.teammateId).Trigger({ triggerId: t.id, orgId: t.orgId }, { discard: true })
    })

    const trigger = (message: Message, teammate: Teammate, kind: Trigger["kind"]): Trigger => ({
      id: triggerId(message.id, teammate.id),
      orgId: message.orgId,
      teammateId: teammate.id,
      roomId: message.roomId,
      threadId: message.threadId,
      messageId: message.id,
      kind
    })

    /**
     * Sends the triggers a person's message causes, and tells the author
     * (`mention.unanswered`) about each teammate they mentioned that is not in
     * the room. Returns the teammates triggered and whether it logged events.
     * Called by the outbox for every message people post.
     */
    const dispatch = Effect.fn("Dispatcher.dispatch")(function*(room: RoomInfo, message: Message) {
      const triggered: ReadonlyArray<TeammateId> = []
      const none = { triggered, logged: false }
      if (message.authorKind !== "user" || message.deletedAt !== null) return none
      const mentioned = message.mentions.filter((m) => m.kind === "teammate")
      const mayTrigger = room.kind === "direct" || room.routing === "auto" || mentioned.length > 0
      if (!mayTrigger) return none
      // The room's teammates, the events and the triggers in one transaction; the
      // entities are told once it has committed, so each finds its trigger.
      const { logged, triggers } = yield* withOrg(room.orgId)(Effect.gen(function*() {
        const present = yield* teammates.inRoom(room.orgId, room.id)
        const events: Array<PendingEvent> = []
        let chosen: Array<{ teammate: Teammate; kind: Trigger["kind"] }>
        if (room.kind === "direct") {
          chosen = present.map((teammate) => ({ teammate, kind: "dm" as const }))
        } else {
          const here = new Set<string>(present.map((t) => t.id))
          for (const m of mentioned.filter((m) => !here.has(m.id))) {
            events.push({
              audience: new Audience({ roomId: null, orgWide: false, userIds: [UserId.make(message.authorId)] }),
              event: new MentionUnanswered({
                roomId: room.id,
                messageId: message.id,
                teammateId: TeammateId.make(m.id),
                handle: m.handle,
                reason:
                  `@${m.handle} is not in this room, so they did not see the message; add them to the room to ask them`
              })
            })
          }
          const asked = new Set(mentioned.map((m) => m.id))
          chosen = present.filter((t) => asked.has(t.id)).map((teammate) => ({ teammate, kind: "mention" as const }))
          if (chosen.length === 0 && message.mentions.length === 0 && room.routing === "auto" && present.length > 0) {
            const decision = route(message.text, present)
            events.push({
              audience: new Audience({ roomId: room.id, orgWide: false, userIds: [] }),
              event: new RoutingDecided({
                roomId: room.id,
                messageId: message.id,
                teammateId: decision.teammate?.id ?? null,
                reason: decision.reason
              })
            })
            if (decision.teammate) chosen = [{ teammate: decision.teammate, kind: "routed" }]
          }
        }
        if (events.length > 0) yield* log.append(room.orgId, events)
        const triggers = chosen.map((c) => trigger(message, c.teammate, c.kind))
        for (const t of triggers) yield* runs.addTrigger(t)
        return { triggers, logged: events.length > 0 }
      }))
      for (const t of triggers) yield* send(t)
      return { triggered: triggers.map((t) => t.teammateId), logged }
    })

    /** Hands a teammate's reply to another teammate in the same room, within the depth limit. */
    const handOff = Effect.fn("Dispatcher.handOff")(
      function*(orgId: OrgId, roomId: RoomId, reply: Message, handle: string) {
        const present = yield* teammates.inRoom(orgId, roomId)
        const target = present.find((t) => t.handle === handle && t.id !== reply.authorId)
        if (!target) return false
        const depth = yield* runs.handOffDepth(orgId, reply.id)
        if (depth >= MAX_HANDOFF_DEPTH) return false
        const t = trigger(reply, target, "handoff")
        yield* runs.addTrigger(t)
        yield* send(t)
        return true
      }
    )

    return { dispatch, handOff } as const
  }),
  dependencies: [TeammateRepo.Default, RunRepo.Default, EventLog.Default]
}) {}
