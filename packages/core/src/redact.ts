/** Keys whose values are secrets or personal data: never shown to an operator as they are. */
const SENSITIVE_KEY = /(pass(word)?|secret|token|signature|authori[sz]ation|api[-_]?key|e-?mail|phone|card|^pan$|billing_details|shipping|customer_details|address|account)/i;

/**
 * A copy of a job's data fit to show an operator (CLI, dashboard): values under sensitive keys
 * become "[redacted]", and `rawBody` — which may hold any of them — becomes its length only.
 * `fields` adds the keys the provider modules name (ProviderModule.sensitiveFields, gathered by
 * the registry as SENSITIVE_FIELDS), matched exactly.
 */
export function redactForDisplay(value: unknown, key = "", fields: ReadonlySet<string> = NONE): unknown {
  if (key === "rawBody" && typeof value === "string") return `[redacted: ${Buffer.byteLength(value, "utf8")} bytes]`;
  if (key !== "" && (SENSITIVE_KEY.test(key) || fields.has(key)) && value !== null && value !== undefined && value !== "") return "[redacted]";
  if (Array.isArray(value)) return value.map((v) => redactForDisplay(v, "", fields));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactForDisplay(v, k, fields)]));
  }
  return value;
}

const NONE: ReadonlySet<string> = new Set();
