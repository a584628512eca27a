import type { IncomingHttpHeaders } from "node:http";

/** Node already lower-cases names; repeated headers are joined the way Node joins them. */
export function flatHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = Array.isArray(value) ? value.join(", ") : value;
  return out;
}

/** The headers an envelope keeps: never signatures, keys or cookies. */
export function keptHeaders(headers: Record<string, string | undefined>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
