// Reads the text of one PDF or DOCX file, in a worker thread of its own so
// that a hostile or huge document cannot stall the node: the parent gives it
// a memory limit and terminates it when it takes too long.
import { Buffer } from "node:buffer"
import { parentPort, workerData } from "node:worker_threads"

const { kind, bytes } = workerData

const extract = async () => {
  if (kind === "pdf") {
    const { extractText, getDocumentProxy } = await import("unpdf")
    const pdf = await getDocumentProxy(new Uint8Array(bytes))
    const { text } = await extractText(pdf, { mergePages: true })
    return text
  }
  const mammoth = (await import("mammoth")).default
  const { value } = await mammoth.extractRawText({ buffer: Buffer.from(bytes) })
  return value
}

extract().then(
  (text) => parentPort.postMessage({ ok: true, text }),
  (error) => parentPort.postMessage({ ok: false, error: String(error?.message ?? error) })
)
