/** Keys whose values are secrets or personal data: never shown to an operator as they are. */
const SENSITIVE_KEY = /(pass(word)?|secret|token|signature|authori[sz]ation|api[-_]?key|e-?mail|phone|card|^pan$|billing_details|shipping|customer_details|address|account)/i;

/**
 * A copy of a job's data fit to show an operator (CLI, dashboard): values under sensitive keys
 * become "[redacted]", and `rawBody` — which may hold any of them — becomes its length only.
 */
export function redactForDisplay(value: unknown, key = ""): unknown {
  if (key === "rawBody" && typeof value === "string") return `[redacted: ${Buffer.byteLength(value, "utf8")} bytes]`;
  if (key !== "" && SENSITIVE_KEY.test(key) && value !== null && value !== undefined && value !== "") return "[redacted]";
  if (Array.isArray(value)) return value.map((v) => redactForDisplay(v));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactForDisplay(v, k)]));
  }
  return value;
}
