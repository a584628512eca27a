import { z } from "zod";
import { CLICK_ERRORS, clickReply, type ClickReply, type Echo } from "./codes";

/**
 * Reading a Click request (docs/protocols/click.md#transport, #fields-read): the body
 * as flat string fields, then the syntax rules. Everything here is answered by the ingress.
 */

export type ClickFields = Record<string, string>;
export type ParsedBody = { ok: true; fields: ClickFields } | { ok: false; why: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** One form component: `+` is a space, `%XX` a byte, the bytes UTF-8; null when it is not. */
function decodeComponent(text: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "+") bytes.push(0x20);
    else if (c === "%") {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      const code = text.codePointAt(i)!;
      if (code > 0xffff) i++;
      bytes.push(...Buffer.from(String.fromCodePoint(code), "utf8"));
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

/**
 * `application/x-www-form-urlencoded`, decoded strictly: a malformed escape or a byte sequence
 * that is no UTF-8 is unreadable, a repeated key is refused (which one was signed?), empty
 * segments are skipped, a key without `=` has the value "". Values are used verbatim after.
 */
export function parseForm(text: string): ParsedBody {
  const fields: ClickFields = {};
  for (const segment of text.split("&")) {
    if (segment === "") continue;
    const eq = segment.indexOf("=");
    const key = decodeComponent(eq < 0 ? segment : segment.slice(0, eq));
    const value = eq < 0 ? "" : decodeComponent(segment.slice(eq + 1));
    if (key === null || value === null) return { ok: false, why: "malformed form encoding" };
    if (Object.hasOwn(fields, key)) return { ok: false, why: `repeated field ${key}` };
    fields[key] = value;
  }
  return { ok: true, fields };
}

const INTEGER_LEXEME = /^(-?[1-9]\d*|0)$/;

/** Every number token of a JSON text (outside strings) as written. */
function numberLexemes(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      i++;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      const m = /^-?[0-9.eE+-]+/.exec(text.slice(i))!;
      out.push(m[0]);
      i += m[0].length;
    } else i++;
  }
  return out;
}

/**
 * A flat JSON object read like the form: string values verbatim, integers as their decimal
 * text. Arrays, nested objects, booleans, null, fractions and exponents are refused (a JSON
 * `1000.50` loses its zero and could never be verified), and so are Advanced/Split Shop bodies
 * (`attempt_trans_id`), which are another protocol.
 */
export function parseJsonObject(text: string): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, why: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, why: "not a JSON object" };
  if (!numberLexemes(text).every((n) => INTEGER_LEXEME.test(n))) return { ok: false, why: "a number that is not an integer" };
  const fields: ClickFields = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === "string") fields[key] = v;
    else if (typeof v === "number" && Number.isSafeInteger(v)) fields[key] = String(v);
    else return { ok: false, why: `field ${key} is neither a string nor an integer` };
  }
  if (Object.hasOwn(fields, "attempt_trans_id")) return { ok: false, why: "an Advanced/Split Shop request" };
  return { ok: true, fields };
}

/** The body's fields: a JSON object when it starts with `{` or `[`, else the form. */
export function parseClickBody(raw: Uint8Array): ParsedBody {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return { ok: false, why: "not UTF-8" };
  }
  const start = text.trimStart()[0];
  if (start === "{" || start === "[") return parseJsonObject(text);
  return parseForm(text);
}

/** A request that passed the syntax rules: what the worker is given (nothing secret in it). */
export const ClickCallSchema = z.object({
  action: z.union([z.literal(0), z.literal(1)]),
  click_trans_id: z.string().regex(/^\d{1,20}$/),
  service_id: z.string().regex(/^\d{1,20}$/),
  click_paydoc_id: z.string().regex(/^\d{1,20}$/),
  merchant_trans_id: z.string().min(1),
  /** Complete: the id Prepare returned (digits); null on Prepare */
  merchant_prepare_id: z.string().regex(/^\d{1,20}$/).nullable(),
  /** as received, judged against the order by the worker */
  amount: z.string().min(1),
  /** Click's status, ≤ 0 */
  error: z.number().int().max(0),
  /** the first 256 characters */
  error_note: z.string(),
  sign_time: z.string().min(1),
  /** Prepare: the `merchant_prepare_id` the ingress reserved for a new attempt */
  proposed_prepare_id: z.number().int().positive().optional(),
});
export type ClickCall = z.infer<typeof ClickCallSchema>;

const DIGITS = /^\d{1,20}$/;
const CLICK_ERROR = /^-?\d{1,9}$/;
const REQUIRED = ["click_trans_id", "service_id", "click_paydoc_id", "merchant_trans_id", "amount", "action", "error", "sign_time", "sign_string"] as const;
export const ERROR_NOTE_MAX = 256;

/** The fields an answer echoes: each when it is well-formed itself. */
export function echoOf(fields: ClickFields): Echo {
  const id = fields["click_trans_id"];
  const order = fields["merchant_trans_id"];
  return {
    ...(id !== undefined && DIGITS.test(id) ? { click_trans_id: id } : {}),
    ...(order !== undefined && order !== "" ? { merchant_trans_id: order } : {}),
  };
}

export type SyntaxResult =
  | { ok: true; fields: ClickFields }
  | { ok: false; reply: ClickReply; why: string };

/**
 * The syntax rules (docs/protocols/click.md#fields-read), all -8: the required fields
 * present and non-empty (`merchant_prepare_id` too when `action` is "1"), the ids 1–20 ASCII
 * digits, `error` an integer ≤ 0. `action` and `amount` only have to be present here.
 */
export function checkSyntax(fields: ClickFields): SyntaxResult {
  const bad = (why: string): SyntaxResult => ({ ok: false, reply: clickReply(CLICK_ERRORS.BAD_REQUEST, echoOf(fields)), why });
  for (const name of REQUIRED) if (!fields[name]) return bad(`missing ${name}`);
  const complete = fields["action"] === "1";
  if (complete && !fields["merchant_prepare_id"]) return bad("missing merchant_prepare_id");
  for (const name of ["click_trans_id", "service_id", "click_paydoc_id", ...(complete ? ["merchant_prepare_id"] : [])]) {
    if (!DIGITS.test(fields[name]!)) return bad(`${name} is not 1-20 digits`);
  }
  const error = fields["error"]!;
  if (!CLICK_ERROR.test(error) || Number(error) > 0) return bad("error is not an integer <= 0");
  return { ok: true, fields };
}

/** The first `max` characters (code points, never half a surrogate pair). */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max).join("");
}

/** The worker's call from fields that passed the syntax rules and whose action is 0 or 1. */
export function callOf(fields: ClickFields, action: 0 | 1, proposedPrepareId?: number): ClickCall {
  return {
    action,
    click_trans_id: fields["click_trans_id"]!,
    service_id: fields["service_id"]!,
    click_paydoc_id: fields["click_paydoc_id"]!,
    merchant_trans_id: fields["merchant_trans_id"]!,
    merchant_prepare_id: action === 1 ? fields["merchant_prepare_id"]! : null,
    amount: fields["amount"]!,
    error: Number(fields["error"]) || 0,
    error_note: truncate(fields["error_note"] ?? "", ERROR_NOTE_MAX),
    sign_time: fields["sign_time"]!,
    ...(proposedPrepareId !== undefined ? { proposed_prepare_id: proposedPrepareId } : {}),
  };
}
