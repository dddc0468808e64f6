/** Data a view reads from the server when it opens (and again when asked). */
import { useCallback, useEffect, useRef, useState } from "react"
import { attempt } from "./App.js"

/**
 * Reads `load` when the view opens and whenever `again` changes (e.g. a
 * teammate's busy state: its turn started or ended); `reload` reads it on
 * demand. Keep `load` stable (`useCallback`): a new one reads again. When
 * reads overlap, only the latest one's answer is kept, so a slow older
 * answer never replaces a newer one.
 */
export function useLoaded<A>(load: () => Promise<A>, again: unknown = null) {
  const [value, setValue] = useState<A | null>(null)
  const [error, setError] = useState<string | null>(null)
  const latest = useRef(0)
  const reload = useCallback(() => {
    const read = ++latest.current
    return attempt(setError, () =>
      load().then((a) => {
        if (read === latest.current) setValue(a)
      }))
  }, [load])
  useEffect(() => {
    void reload()
  }, [again, reload])
  return { value, setValue, error, setError, reload }
}
