/**
 * The files phase's figures as tables (docs/benchmarks.md explains them).
 */
import type { FilesRun, TextRun, TransferRun } from "./Files.js"
import type { TransferResult } from "./Protocol.js"
import { int, type Machine, machineList, ms, ratio, table } from "./Report.js"
import { summarize } from "./Stats.js"

const MIB = 1024 * 1024

const mibPerSecond = (t: TransferResult) => t.bytes / MIB / (t.elapsedMs / 1000)

/** A row of a transfer table: the case, the rate, and the rate against `baseline`. */
const transferRow = (
  label: string,
  c: TransferRun,
  t: TransferResult,
  baseline: TransferResult,
  serverCpuMs?: number
) => [
  label,
  String(c.mib),
  int(c.files),
  String(c.concurrency),
  mibPerSecond(t).toFixed(0),
  ms(t.perFile.p50),
  serverCpuMs === undefined ? "–" : ms(serverCpuMs / (t.bytes / MIB)),
  ratio(mibPerSecond(t) / mibPerSecond(baseline))
]

const transferHeader = (name: string, baseline: string) => [
  name,
  "file MiB",
  "files",
  "at a time",
  "MiB/s",
  "p50 ms per file",
  "server CPU ms/MiB",
  `÷ ${baseline}`
]

/** Uploads next to node:fs writes of the same bytes into the same folder. */
export const uploadTable = (r: FilesRun) =>
  table(
    transferHeader("upload", "node:fs write"),
    r.transfers.flatMap((c) => [
      transferRow("node:fs write, no fsync (baseline)", c, c.write, c.write),
      transferRow("node:fs write, each file fsync-ed", c, c.writeSynced, c.write),
      transferRow("upload: POST /v1/rooms/:room/files", c, c.upload.result, c.write, c.upload.serverCpuMs)
    ])
  )

/** Downloads next to node:fs reads of the same bytes from the same folder. */
export const downloadTable = (r: FilesRun) =>
  table(
    transferHeader("download", "node:fs read"),
    r.transfers.flatMap((c) => [
      transferRow("node:fs read (baseline)", c, c.read, c.read),
      transferRow("download: GET …/files/:file/content", c, c.download.result, c.read, c.download.serverCpuMs)
    ])
  )

const FORMAT_NAMES = { text: "plain text", pdf: "PDF (unpdf, in a worker)", docx: "Word (mammoth, in a worker)" }

/** Median of a text run's times from the upload's response to its `file.updated`. */
const readMs = (t: TextRun) => summarize(t.reads.flatMap((read) => read.readMs === null ? [] : [read.readMs])).p50

/** Milliseconds per MiB of text, the figure the formats are compared by. */
const msPerTextMib = (t: TextRun) => readMs(t) / (t.textBytes / MIB)

/**
 * What one more MiB of text costs: the difference to the same format's
 * shortest documents, which bear the fixed costs (a worker, its library) too.
 */
const marginalMsPerTextMib = (r: FilesRun, t: TextRun) => {
  const shortest = r.texts.filter((s) => s.format === t.format).sort((a, b) => a.pages - b.pages)[0]
  return shortest === undefined || shortest.pages === t.pages
    ? Number.NaN
    : (readMs(t) - readMs(shortest)) / ((t.textBytes - shortest.textBytes) / MIB)
}

/** Text reading time per MiB by format and length, next to plain text of the same text. */
export const textTable = (r: FilesRun) =>
  table(
    [
      "text reading: upload → file.updated",
      "pages",
      "documents",
      "file KiB",
      "text KiB",
      "upload p50 ms",
      "response → file.updated p50 ms",
      "ms per MiB of file",
      "ms per MiB of text",
      "÷ plain text",
      "more text: ms per MiB"
    ],
    r.texts.map((t) => {
      const fileBytes = summarize(t.reads.map((read) => read.bytes)).p50
      const plain = r.texts.find((p) => p.format === "text" && p.pages === t.pages)
      return [
        `${FORMAT_NAMES[t.format]}${t.format === "text" ? " (baseline)" : ""}`,
        int(t.pages),
        int(t.reads.length),
        int(fileBytes / 1024),
        int(t.textBytes / 1024),
        ms(summarize(t.reads.map((read) => read.uploadMs)).p50),
        ms(readMs(t)),
        int(readMs(t) / (fileBytes / MIB)),
        int(msPerTextMib(t)),
        plain === undefined ? "–" : ratio(msPerTextMib(t) / msPerTextMib(plain)),
        Number.isFinite(marginalMsPerTextMib(r, t)) ? int(marginalMsPerTextMib(r, t)) : "–"
      ]
    })
  )

/** The files phase's figures: the machine, then tables only. */
export const filesSummary = (machine: Machine, r: FilesRun) => {
  const transfers = r.transfers.flatMap((c) => [c.write, c.writeSynced, c.read, c.upload.result, c.download.result])
  const notReady = r.texts.flatMap((t) => t.reads.filter((read) => read.status !== "ready").map((read) => read.status))
  return [
    machineList(machine),
    `- file storage: ${r.storage}`,
    "",
    uploadTable(r),
    "",
    downloadTable(r),
    "",
    textTable(r),
    "",
    table(["files run", "value"], [
      ["transfers that failed", int(transfers.reduce((n, t) => n + t.failed, 0))],
      [
        "documents whose text was not read",
        notReady.length === 0 ? "0" : `${notReady.length} (${notReady.join(", ")})`
      ],
      ["files phase took, s", r.seconds.toFixed(0)]
    ])
  ].join("\n")
}
