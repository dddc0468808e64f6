/**
 * Files through the public API, for the file suites: upload a form, download
 * the bytes, and read what was answered.
 */
import { expect } from "@effect/vitest"
import { FileInfo } from "@troupe/domain/File"
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import { baseUrl, fileForm, raw } from "./Harness.js"

/** What an upload or download answered. */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly json: unknown
  readonly bytes: Uint8Array
}

/** Reads a response whole: its bytes, and the JSON they hold if any. */
export const answer = async (response: Response): Promise<Answer> => {
  const bytes = new Uint8Array(await response.arrayBuffer())
  const text = new TextDecoder().decode(bytes)
  let json: unknown = undefined
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, json, bytes }
}

/** Uploads `bytes` as the form part `field` (default `file`). */
export const upload = (
  token: string,
  roomId: string,
  bytes: Uint8Array,
  options: { readonly name?: string; readonly type?: string; readonly field?: string } = {}
) => raw("POST", `/v1/rooms/${roomId}/files`, { token, body: fileForm(bytes, options) })

/** Downloads a file's content. */
export const download = (token: string, roomId: string, fileId: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(baseUrl, (url) =>
    Effect.promise(() =>
      fetch(`${url}/v1/rooms/${roomId}/files/${fileId}/content`, {
        headers: { authorization: `Bearer ${token}`, ...headers }
      }).then(answer)
    ))

/** The file an upload created (it must have answered 201). */
export const fileOf = (a: { readonly status: number; readonly json: unknown }) => {
  expect(a.status, JSON.stringify(a.json)).toBe(201)
  return Schema.decodeUnknownSync(FileInfo)(a.json)
}

/** The SHA-256 of `bytes`, in hex. */
export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** `s` as UTF-8 bytes. */
export const text = (s: string) => new TextEncoder().encode(s)
