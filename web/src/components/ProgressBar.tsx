/**
 * A progress bar for a fraction between 0 and 1, announced as a percentage. Its label is on the
 * bar twice, drawn at the same place: dark on the track, and light on the fill (inside it, so the
 * fill's edge clips it), so every character stays readable wherever the edge is.
 */
export function ProgressBar({ value, label }: { value: number; label: string }) {
  const pct = Math.round(Math.min(1, Math.max(0, value)) * 100);
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-label={label}>
      <span className="progress-text" aria-hidden="true">
        {pct}%
      </span>
      <div className="progress-fill" style={{ width: `${pct}%` }}>
        <span className="progress-text on-fill" aria-hidden="true">
          {pct}%
        </span>
      </div>
    </div>
  );
}
