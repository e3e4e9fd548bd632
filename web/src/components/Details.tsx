/** A card's data, folded away under "View Details". */
export function Details({ data }: { data: Record<string, unknown> }) {
  return (
    <details className="details">
      <summary>View Details</summary>
      <dl>
        {Object.entries(data).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
          </div>
        ))}
      </dl>
    </details>
  );
}
