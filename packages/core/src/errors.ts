/** Base of every error payhooks throws on purpose; `code` is stable and safe to log. */
export abstract class PayhooksError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad or missing environment variable; the message is one line per variable. */
export class ConfigError extends PayhooksError {
  readonly code = "config_invalid";
}

/** Input that can never be processed, however often it is retried. */
export class PayloadValidationError extends PayhooksError {
  readonly code = "payload_invalid";
}

/** A decimal amount that cannot be represented exactly in the currency's minor units. */
export class MoneyError extends PayhooksError {
  readonly code = "money_invalid";
}

/** A write that conflicts with what the ledger already holds (HTTP 409 at the edge). */
export class LedgerConflictError extends PayhooksError {
  readonly code = "ledger_conflict";
}
