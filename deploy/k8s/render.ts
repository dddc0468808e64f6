/**
 * Writes the manifests of `manifests.ts` to `deploy/k8s/*.yaml`.
 * Run with `npm run deploy:render` after editing `manifests.ts`.
 */
import { writeFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { stringify } from "yaml"
import { files } from "./manifests.js"

/** The folder the YAML files live in. */
export const directory = Path.dirname(fileURLToPath(import.meta.url))

const header = "# Generated from deploy/k8s/manifests.ts by `npm run deploy:render`; edit that file, not this one.\n"

/** Each file's name and the exact text it should have. */
export const rendered = (): ReadonlyArray<{ readonly name: string; readonly text: string }> =>
  files.map((file) => ({
    name: file.name,
    text: header + file.documents.map((doc) => stringify(doc, { lineWidth: 0 })).join("---\n")
  }))

const isMain = process.argv[1] !== undefined && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)

if (isMain) {
  for (const file of rendered()) {
    writeFileSync(Path.join(directory, file.name), file.text)
    console.log(`wrote deploy/k8s/${file.name}`)
  }
}
