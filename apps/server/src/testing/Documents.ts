/**
 * PDF and Word documents built from text, for the tests and the benchmark of
 * text reading: a form feed (`\f`) starts a new page, a newline a new line
 * (a new paragraph in Word). Text is ASCII.
 */
import { Effect } from "effect"
import JSZip from "jszip"

const pagesOf = (text: string) => text.split("\f").map((page) => page.split("\n"))

/** A string in a PDF content stream: parentheses and backslashes escaped. */
const pdfString = (s: string) => `(${s.replace(/[\\()]/g, (c) => `\\${c}`)})`

/**
 * A PDF showing `text` in 10-point Helvetica, one content stream per page
 * (uncompressed; offsets computed, so the cross-reference table is exact).
 */
export const pdfWith = (text: string): Uint8Array => {
  const pages = pagesOf(text)
  // Objects 1–3: catalog, page tree, font; then a page and its content stream for each page.
  const pageRef = (i: number) => `${4 + 2 * i} 0 R`
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    `<< /Type /Pages /Kids [${pages.map((_, i) => pageRef(i)).join(" ")}] /Count ${pages.length} >>`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ...pages.flatMap((lines, i) => {
      const stream = `BT /F1 10 Tf 12 TL 72 750 Td ${lines.map(pdfString).join(" Tj T* ")} Tj ET`
      return [
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${5 + 2 * i} 0 R ` +
        `/Resources << /Font << /F1 3 0 R >> >> >>`,
        `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`
      ]
    })
  ]
  let body = "%PDF-1.4\n"
  const offsets: Array<number> = []
  objects.forEach((o, i) => {
    offsets.push(body.length)
    body += `${i + 1} 0 obj\n${o}\nendobj\n`
  })
  const xref = body.length
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`
  body += offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`
  return new TextEncoder().encode(body)
}

const xmlText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** A minimal Word document of `text`: a paragraph per line, a page break between pages (zipped as Word does). */
export const docxWith = (text: string) =>
  Effect.promise(async () => {
    const paragraph = (line: string) => `<w:p><w:r><w:t xml:space="preserve">${xmlText(line)}</w:t></w:r></w:p>`
    const body = pagesOf(text).map((lines) => lines.map(paragraph).join("")).join(
      `<w:p><w:r><w:br w:type="page"/></w:r></w:p>`
    )
    const zip = new JSZip()
    zip.file(
      "[Content_Types].xml",
      `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
        `<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
        `<Default Extension="xml" ContentType="application/xml"/>` +
        `<Override PartName="/word/document.xml" ` +
        `ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`
    )
    zip.file(
      "_rels/.rels",
      `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
        `<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" ` +
        `Target="word/document.xml"/></Relationships>`
    )
    zip.file(
      "word/document.xml",
      `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">` +
        `<w:body>${body}</w:body></w:document>`
    )
    return new Uint8Array(await zip.generateAsync({ type: "uint8array", compression: "DEFLATE" }))
  })
