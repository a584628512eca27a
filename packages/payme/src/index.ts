export { PAYME_ERRORS, paymeMessage, rpcError, rpcResponse } from "./errors";
export type { LocalizedMessage, PaymeErrorCode, PaymeReply } from "./errors";
export { PAYME_METHODS, authenticate, basicAuthorization, parseBasicAuth, parseCall, requestId } from "./rpc";
export type { PaymeCall, PaymeKeys, PaymeMethod, PaymeQueuedMethod } from "./rpc";
export {
  PARAMS,
  PAYME_REASONS,
  PAYME_TIMEOUT_MS,
  checkOrder,
  checkPerform,
  checkTransaction,
  decideCancel,
  decideCreate,
  decidePerform,
  decideSetFiscalData,
  merchantTransactionId,
  orderIdOf,
  parseParams,
  statementIndex,
  statementItem,
  transactionOf,
} from "./transaction";
export type { PaymeContext, PaymeCurrent, PaymeOutcome, PaymeParams, PaymeState, PaymeTransaction } from "./transaction";
export { PAYME_PATH, paymeModule, paymeOutcome } from "./module";
export type { PaymeJobResult } from "./module";
export { createPaymeKeyStore } from "./keys";
export type { PaymeKeyStore } from "./keys";
export { paymeSimulator } from "./simulator";
export { paymeConfig } from "./config";
export type { PaymeConfig } from "./config";
