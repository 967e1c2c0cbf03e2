/**
 * Credentials a session holds (a hibernated page's cookies and storage, a saved context read for
 * saving): shown by how many there are, never by value (`GET …/snapshot`, the inspector).
 */
const SECRET_KEYS = new Set(['cookies', 'localStorage', 'sessionStorage', 'password']);

function redacted(value: unknown): unknown {
  if (Array.isArray(value)) return { $redacted: value.length };
  if (value && typeof value === 'object') return { $redacted: Object.keys(value).length };
  return { $redacted: typeof value };
}

/**
 * A JSON-safe copy of actor state for people and tools: plain data is kept; handles (pages, CDP
 * sessions, peer connections, buffers, child actors) become `{ $handle: "<Class>" }`; credentials
 * become `{ $redacted: <count> }`.
 */
export function sanitize(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'undefined' || typeof value === 'function' || typeof value === 'symbol')
    return undefined;
  if (depth > 12) return { $handle: 'deep' };
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value))
    return { $bytes: (value as ArrayBufferView).byteLength };
  if (Array.isArray(value)) return value.slice(0, 200).map((item) => sanitize(item, depth + 1) ?? null);
  if (value instanceof Date) return value.toISOString();
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null)
    return { $handle: (value as object).constructor?.name ?? 'object' };
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const clean = item !== undefined && SECRET_KEYS.has(key) ? redacted(item) : sanitize(item, depth + 1);
    if (clean !== undefined) out[key] = clean;
  }
  return out;
}
