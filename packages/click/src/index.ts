import type { ProviderModule } from "@payhooks/core";
import { clickConfig, type ClickEnabled, type clickConfigShape } from "./config";
import { clickIngress, type ClickIngressState } from "./ingress";
import { clickSimulator } from "./simulator";
import { clickWorker } from "./worker";

/**
 * Click's SHOP API (Prepare/Complete), docs/protocols/click.md: request–reply, answered by a
 * worker from the ledger. `sign_string` is an MD5 of the secret key plus public data: it is
 * masked wherever payloads are shown.
 */
export const clickModule: ProviderModule<typeof clickConfigShape, ClickIngressState, ClickEnabled> = {
  id: "click",
  config: clickConfig,
  ingress: clickIngress,
  worker: clickWorker,
  sensitiveFields: ["sign_string"],
  // Click sends no authentication header: the signature is a body field.
  secretHeaders: [],
  simulator: clickSimulator,
};

export { CLICK_ERRORS, CLICK_ERROR_NOTES, clickReply, serializeReply } from "./codes";
export type { ClickErrorCode, ClickReply, Echo } from "./codes";
export { clickConfig, clickConfigShape } from "./config";
export type { ClickConfig, ClickEnabled } from "./config";
export { soumToTiyin } from "./money";
export { clickSign, signString, verifyClickSignature } from "./sign";
export type { SignedFields } from "./sign";
export { ClickCallSchema, ERROR_NOTE_MAX, callOf, checkSyntax, echoOf, parseClickBody, parseForm, parseJsonObject, truncate } from "./request";
export type { ClickCall, ClickFields, ParsedBody, SyntaxResult } from "./request";
export { attemptOf, decideComplete, decidePrepare, isNamedAttempt, namedOrder, orderRefusal } from "./attempt";
export type { ClickAttempt, ClickContext, ClickCurrent, ClickOutcome, ClickState } from "./attempt";
export { CLICK_ROUTES, acceptClick, answerOf, clickIngress, jsonReply } from "./ingress";
export type { ClickIngressState } from "./ingress";
export { answerClick, clickWorker } from "./worker";
export { clickFormBody, clickSignTime, clickSimulator, readAnswer } from "./simulator";
