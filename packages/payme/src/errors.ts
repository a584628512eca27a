/**
 * Payme JSON-RPC error codes (docs/protocols/payme.md#error-codes) and their localized messages
 * (#answers). Every error Payme receives carries `message: {ru, uz, en}`: Payme shows it to the payer.
 */
export const PAYME_ERRORS = {
  NOT_POST: -32300,
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INSUFFICIENT_PRIVILEGE: -32504,
  SYSTEM_ERROR: -32400,
  WRONG_AMOUNT: -31001,
  TRANSACTION_NOT_FOUND: -31003,
  CANNOT_CANCEL: -31007,
  CANNOT_PERFORM: -31008,
  ACCOUNT_INVALID: -31050,
} as const;

export type PaymeErrorCode = (typeof PAYME_ERRORS)[keyof typeof PAYME_ERRORS];

export type LocalizedMessage = { ru: string; uz: string; en: string };

const MESSAGES: Record<PaymeErrorCode, LocalizedMessage> = {
  [-32300]: {
    ru: "Метод запроса не POST",
    uz: "So'rov usuli POST emas",
    en: "Request method is not POST",
  },
  [-32700]: {
    ru: "Ошибка разбора JSON",
    uz: "JSON tahlilida xatolik",
    en: "JSON parse error",
  },
  [-32600]: {
    ru: "Неверный запрос: отсутствуют обязательные поля или их типы не соответствуют спецификации",
    uz: "Noto'g'ri so'rov: majburiy maydonlar yo'q yoki ularning turlari spetsifikatsiyaga mos emas",
    en: "Invalid request: required fields are missing or their types do not match the specification",
  },
  [-32601]: {
    ru: "Запрашиваемый метод не найден",
    uz: "So'ralgan usul topilmadi",
    en: "Method not found",
  },
  [-32504]: {
    ru: "Недостаточно привилегий для выполнения метода",
    uz: "Usulni bajarish uchun imtiyozlar yetarli emas",
    en: "Insufficient privileges to perform the method",
  },
  [-32400]: {
    ru: "Системная ошибка, повторите запрос позже",
    uz: "Tizim xatosi, so'rovni keyinroq takrorlang",
    en: "System error, retry the request later",
  },
  [-31001]: {
    ru: "Неверная сумма",
    uz: "Noto'g'ri summa",
    en: "Incorrect amount",
  },
  [-31003]: {
    ru: "Транзакция не найдена",
    uz: "Tranzaksiya topilmadi",
    en: "Transaction not found",
  },
  [-31007]: {
    ru: "Невозможно отменить транзакцию. Заказ выполнен",
    uz: "Tranzaksiyani bekor qilib bo'lmaydi. Buyurtma bajarilgan",
    en: "Cannot cancel transaction. Order is fulfilled",
  },
  [-31008]: {
    ru: "Невозможно выполнить операцию",
    uz: "Operatsiyani bajarib bo'lmaydi",
    en: "Unable to perform operation",
  },
  [-31050]: {
    ru: "Неверный код заказа",
    uz: "Buyurtma kodida xatolik",
    en: "Incorrect order code",
  },
};

/** The localized message for a code; every code payhooks sends has one. */
export function paymeMessage(code: PaymeErrorCode): LocalizedMessage {
  return MESSAGES[code];
}

/** What a method decided to answer, before the JSON-RPC envelope (`id`, localized message) is added. */
export type PaymeReply =
  | { result: Record<string, unknown> }
  | { error: { code: PaymeErrorCode; data?: unknown } };

export function rpcError(code: PaymeErrorCode, data?: unknown): PaymeReply {
  return data === undefined ? { error: { code } } : { error: { code, data } };
}

/** The JSON-RPC response body: exactly one of `result` / `error`, and the request's `id`. */
export function rpcResponse(id: unknown, reply: PaymeReply): Record<string, unknown> {
  if ("result" in reply) return { jsonrpc: "2.0", id, result: reply.result };
  const { code, data } = reply.error;
  return {
    jsonrpc: "2.0",
    id,
    error: { code, message: paymeMessage(code), ...(data === undefined ? {} : { data }) },
  };
}
