/**
 * Output for people: tables and a few colours, the colours only when stdout
 * is a terminal and `NO_COLOR` is not set (https://no-color.org). Scripts
 * pass `--json` and get one JSON object per line instead.
 */
import { Console, Effect } from "effect"

/** Whether this process paints its output. */
export const colours = process.stdout.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""

const paint = (open: number, close: number) => (text: string) =>
  colours ? `\u001b[${open}m${text}\u001b[${close}m` : text

/** Headings. */
export const bold = paint(1, 22)
/** What matters less: ids, the thinking state. */
export const dim = paint(2, 22)
/** Names of who speaks. */
export const cyan = paint(36, 39)
/** Tool calls. */
export const yellow = paint(33, 39)

/** A table for people: left-aligned columns, the first row a heading. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = rows.reduce<Array<number>>(
    (w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)),
    []
  )
  return rows.map((row, r) => {
    const line = row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
    return r === 0 ? bold(line) : line
  }).join("\n")
}

/** Prints `items` as JSON lines (`--json`) or as a table with `header`. */
export const listing = <A>(
  asJson: boolean,
  items: ReadonlyArray<A>,
  header: ReadonlyArray<string>,
  row: (item: A) => ReadonlyArray<string>,
  record: (item: A) => unknown
) =>
  asJson
    ? Effect.forEach(items, (item) => Console.log(JSON.stringify(record(item))), { discard: true })
    : Console.log(table([header, ...items.map(row)]))
