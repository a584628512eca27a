/**
 * Click's answer codes and the JSON answers built from them (docs/protocols/click.md#answers,
 * #error-codes). The `error_note` texts are Click's own: keep them as they are.
 */
export const CLICK_ERRORS = {
  SUCCESS: 0,
  SIGN_CHECK_FAILED: -1,
  INCORRECT_AMOUNT: -2,
  ACTION_NOT_FOUND: -3,
  ALREADY_PAID: -4,
  USER_NOT_FOUND: -5,
  TRANSACTION_NOT_FOUND: -6,
  FAILED_TO_UPDATE: -7,
  BAD_REQUEST: -8,
  TRANSACTION_CANCELLED: -9,
} as const;

export type ClickErrorCode = (typeof CLICK_ERRORS)[keyof typeof CLICK_ERRORS];

export const CLICK_ERROR_NOTES: Readonly<Record<ClickErrorCode, string>> = {
  [0]: "Success",
  [-1]: "SIGN CHECK FAILED!",
  [-2]: "Incorrect parameter amount",
  [-3]: "Action not found",
  [-4]: "Already paid",
  [-5]: "User does not exist",
  [-6]: "Transaction does not exist",
  [-7]: "Failed to update user",
  [-8]: "Error in request from click",
  [-9]: "Transaction cancelled",
};

/**
 * An answer to Click. `click_trans_id` is kept as the decimal text received (it may exceed
 * 2^53) and written as a JSON number by `serializeReply`; the two prepare/confirm ids are ours.
 */
export type ClickReply = {
  click_trans_id?: string;
  merchant_trans_id?: string;
  merchant_prepare_id?: number;
  merchant_confirm_id?: number;
  error: ClickErrorCode;
  error_note: string;
};

/** What an answer echoes of the request (the fields that passed the syntax check). */
export type Echo = { click_trans_id?: string; merchant_trans_id?: string };

/** An answer with `code`, its fixed note, and what it echoes. */
export function clickReply(
  code: ClickErrorCode,
  echo: Echo = {},
  ids: { merchant_prepare_id?: number; merchant_confirm_id?: number } = {},
): ClickReply {
  return {
    ...(echo.click_trans_id !== undefined ? { click_trans_id: echo.click_trans_id } : {}),
    ...(echo.merchant_trans_id !== undefined ? { merchant_trans_id: echo.merchant_trans_id } : {}),
    ...ids,
    error: code,
    error_note: CLICK_ERROR_NOTES[code],
  };
}

/**
 * The answer's JSON text. `click_trans_id` is written with exactly the digits received, never
 * through a float (docs/protocols/click.md#answers); digits with a leading zero would not be a
 * JSON number, so those (never seen from Click) go out as a string, which readers accept too.
 */
export function serializeReply(reply: ClickReply): string {
  const parts: string[] = [];
  if (reply.click_trans_id !== undefined) {
    const id = reply.click_trans_id;
    parts.push(`"click_trans_id":${/^(0|[1-9]\d*)$/.test(id) ? id : JSON.stringify(id)}`);
  }
  if (reply.merchant_trans_id !== undefined) parts.push(`"merchant_trans_id":${JSON.stringify(reply.merchant_trans_id)}`);
  if (reply.merchant_prepare_id !== undefined) parts.push(`"merchant_prepare_id":${JSON.stringify(reply.merchant_prepare_id)}`);
  if (reply.merchant_confirm_id !== undefined) parts.push(`"merchant_confirm_id":${JSON.stringify(reply.merchant_confirm_id)}`);
  parts.push(`"error":${JSON.stringify(reply.error)}`, `"error_note":${JSON.stringify(reply.error_note)}`);
  return `{${parts.join(",")}}`;
}
