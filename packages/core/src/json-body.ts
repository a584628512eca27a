import { createHash } from "node:crypto";

/**
 * The deepest nesting of arrays and objects a webhook body may have. Real payloads stay under
 * ten levels (a Stripe-style event's `data.object` is the deepest); past this the body is
 * refused as malformed. Without a bound, a verified body nested a few thousand levels deep
 * parses fine (V8's JSON.parse is iterative) but overflows the stack of the recursive
 * JSON.stringify BullMQ runs on the job data, and the enqueue fails as if Redis were down.
 */
export const MAX_JSON_DEPTH = 64;

/** RFC 8259 §8.1: JSON exchanged between systems is UTF-8. A BOM is kept, so JSON.parse refuses it as before. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export type JsonBody =
  | { ok: true; value: unknown; text: string }
  /** not UTF-8 or not JSON: the bytes say nothing we can read */
  | { ok: false; reason: "invalid_json" }
  /** valid JSON nested deeper than MAX_JSON_DEPTH; `value` is only for reading a top-level id to echo */
  | { ok: false; reason: "json_too_deep"; value: unknown };

/**
 * Webhook bytes → JSON, strictly: invalid UTF-8 is refused rather than read with U+FFFD in
 * place (Buffer#toString would), so what is parsed, enqueued and kept as `rawBody` is exactly
 * the text whose bytes were verified. `text` is that text.
 */
export function parseJsonBody(raw: Uint8Array): JsonBody {
  let text: string;
  let value: unknown;
  try {
    text = UTF8.decode(raw);
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "invalid_json" };
  }
  return withinDepth(value, MAX_JSON_DEPTH) ? { ok: true, value, text } : { ok: false, reason: "json_too_deep", value };
}

/** Whether no array or object in `root` is nested deeper than `max` (the root is level 1); iterative, so any depth is safe. */
export function withinDepth(root: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (depth > max) return false;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return true;
}

/**
 * What an authenticated delivery's bytes become on the queue. Every authenticated delivery is
 * acknowledged (a provider retries a refusal for days, then disables the endpoint), so bytes that
 * are no readable JSON are kept too: in base64, with the reason, for the worker to quarantine.
 * `digest` names the bytes (a job id for a delivery that carries no id of its own).
 */
export function authenticatedBody(
  raw: Uint8Array,
): { rawBody: string; payload: unknown; unreadable?: "invalid_json" | "json_too_deep"; digest: string } {
  const digest = createHash("sha256").update(raw).digest("hex").slice(0, 32);
  const parsed = parseJsonBody(raw);
  if (parsed.ok) return { rawBody: parsed.text, payload: parsed.value, digest };
  return { rawBody: Buffer.from(raw).toString("base64"), payload: null, unreadable: parsed.reason, digest };
}
