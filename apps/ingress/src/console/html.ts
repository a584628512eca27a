/**
 * The console's HTML: escaping, a tagged template that escapes every interpolated value unless it
 * is already {@link SafeHtml}, and the one page layout (shared nav, CSS inline — no build step,
 * no script). Everything an operator sees goes through `html`, so a value from a job or the
 * ledger can never become markup.
 */

/** A string that is already HTML (built by `html` or `raw`); interpolated as it is. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

/** Text → HTML text or attribute value (quotes included). */
export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/** A value allowed inside `html`: escaped unless SafeHtml; arrays are joined; null/undefined/false render nothing. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(value);
}

/** html`<p>${text}</p>`: every interpolation escaped, nested `html` kept. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Marks trusted markup (constants written in this code only — never data). */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** Where the console is mounted on the admin port. */
export const CONSOLE_PATH = "/console";

export type LayoutOptions = {
  /** the nav item to mark as current */
  active?: "overview" | "search" | "order";
  /** prefills the nav's search box */
  query?: string;
  /** a one-line message above the body (e.g. the result of an action) */
  flash?: { kind: "ok" | "error"; text: string };
};

const CSS = `
:root{--fg:#1b1f24;--muted:#5b6470;--bg:#f6f7f9;--card:#fff;--line:#d9dde3;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--accent:#0b57d0}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1b1f24;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}header a.active{text-decoration:underline}
header form{display:flex;flex:1 1 16rem;gap:.4rem;max-width:36rem}
header input[type=search]{flex:1;min-width:0;padding:.35rem .5rem;border:0;border-radius:4px;font:inherit}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;margin:.5rem 0}
table{border-collapse:collapse;width:100%;background:var(--card)}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
.scroll{overflow-x:auto}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{color:var(--muted)}dd{margin:0}
.badge{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.8rem;font-weight:600;border:1px solid currentColor}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.muted{color:var(--muted)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85em;word-break:break-all}
button,.button{font:inherit;padding:.35rem .8rem;border-radius:4px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
.button.secondary{background:#fff;color:var(--accent)}
.flash{padding:.5rem 1rem;border-radius:4px;margin-bottom:1rem}.flash.ok{background:#dafbe1}.flash.error{background:#ffebe9}
@media (max-width:40rem){main{padding:.5rem}td,th{padding:.3rem}dl{grid-template-columns:1fr}dt{margin-top:.3rem}}
`;

/**
 * A whole page: doctype, head, the shared nav (Overview | search box | Search help) and `body`
 * inside <main>. `title` is text (escaped); `body` is HTML built with `html`.
 */
export function layout(title: string, body: SafeHtml, opts: LayoutOptions = {}): string {
  const active = (name: LayoutOptions["active"]) => (opts.active === name ? raw(' class="active" aria-current="page"') : "");
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${title} · payhooks console</title><style>${raw(CSS)}</style></head>
<body><header><a href="${CONSOLE_PATH}"${active("overview")}>payhooks · Overview</a>
<form method="get" action="${CONSOLE_PATH}/search" role="search"><input type="search" name="q" value="${opts.query ?? ""}" placeholder="order id, payment id, evt_…, job id" aria-label="Search"><button type="submit">Search</button></form>
<a href="${CONSOLE_PATH}/search"${active("search")}>Search</a></header>
<main>${opts.flash ? html`<div class="flash ${opts.flash.kind}" role="status">${opts.flash.text}</div>` : ""}${body}</main></body></html>`.value;
}
