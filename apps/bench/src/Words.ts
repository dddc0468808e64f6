/**
 * Deterministic words for the benchmarks' generated texts: memories and documents.
 */
/**
 * Words of generated notes and documents, most frequent first: recall's
 * memories draw them with a skew towards the front, so the first words are in
 * many memories and the last in few, as in real notes. No English stop words
 * (search drops them).
 */
export const words = [
  ...new Set((
    "team project launch customer release budget meeting design review deadline roadmap feature bug " +
    "deploy server database invoice contract partner hiring interview onboarding marketing campaign " +
    "sales pipeline quarter revenue forecast support ticket incident outage latency migration backup " +
    "security audit compliance privacy policy vendor pricing discount renewal churn feedback survey " +
    "analytics dashboard metric report presentation workshop training offsite travel expense approval " +
    "legal trademark patent office lease equipment laptop license subscription newsletter blog website " +
    "mobile android iphone desktop browser extension integration webhook token password login signup " +
    "billing payment refund shipping warehouse inventory supplier logistics forecasting planning " +
    "strategy vision mission values culture diversity wellbeing benefits payroll bonus promotion " +
    "retrospective sprint backlog estimate prototype mockup wireframe typography colour palette logo " +
    "brand tagline slogan press interview podcast webinar conference booth sponsor speaker agenda " +
    "minutes decision action owner blocker dependency risk mitigation escalation stakeholder sponsor " +
    "executive board investor funding valuation runway burn hiring plan headcount contractor freelancer " +
    "agency translation localisation accessibility performance benchmark profiling cache queue worker " +
    "cluster shard replica failover snapshot archive retention deletion export import spreadsheet " +
    "calendar holiday vacation birthday anniversary lunch dinner coffee pizza tuesday friday monday " +
    "january february march april june july august september october november december morning evening " +
    "berlin paris london tokyo lisbon madrid oslo vienna prague dublin zurich amsterdam copenhagen"
  ).split(" "))
]

/** A small deterministic generator (mulberry32), so every run generates the same text. */
export const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
