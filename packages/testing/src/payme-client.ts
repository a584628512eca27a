import { basicAuthorization } from "@payhooks/payme";

/** What Payme would send: a JSON-RPC POST with Basic auth, `text/json` as in Payme's own example. */
export type PaymeResponse = {
  id: unknown;
  result?: Record<string, unknown>;
  error?: { code: number; message: { ru: string; uz: string; en: string }; data?: unknown };
};

let nextId = 1;

export function paymeAuth(key: string, login = "Paycom"): string {
  return basicAuthorization(login, key);
}

/** Calls a Payme endpoint as Payme does; fails the test if the HTTP status is not 200. */
export async function paymeCall(
  url: string,
  key: string | null,
  method: string,
  params: Record<string, unknown>,
  options: { login?: string; id?: number } = {},
): Promise<PaymeResponse> {
  const id = options.id ?? nextId++;
  const res = await fetch(`${url}/webhooks/payme`, {
    method: "POST",
    headers: {
      "content-type": "text/json; charset=UTF-8",
      ...(key === null ? {} : { authorization: paymeAuth(key, options.login) }),
    },
    body: JSON.stringify({ method, params, id }),
  });
  if (res.status !== 200) throw new Error(`Payme endpoint answered HTTP ${res.status}`);
  return (await res.json()) as PaymeResponse;
}

/** A Payme transaction id: 24 hex characters, like Payme's own. */
export function paymeId(): string {
  return [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("");
}
