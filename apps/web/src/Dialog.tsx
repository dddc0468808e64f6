/**
 * A modal dialog: a backdrop that closes it when clicked, Escape to close,
 * and the dialog role with its name for assistive technology.
 */
import type { ReactNode } from "react"

export const Dialog = ({ children, className, label, onClose }: {
  readonly label: string
  readonly onClose: () => void
  readonly className?: string
  readonly children: ReactNode
}) => (
  <div className="dialog-backdrop" onClick={onClose}>
    <div
      className={className === undefined ? "dialog" : `dialog ${className}`}
      role="dialog"
      aria-modal="true"
      aria-label={label}
      onClick={(e) => e.stopPropagation()}
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose()
      }}
    >
      {children}
    </div>
  </div>
)
