export { INITIAL_PAYSKE_STATE, SEEN_LIMIT, decidePayske } from "./decide";
export type { PayskeState, PayskeStatus } from "./decide";
export {
  PayskeEventSchema,
  THIN_EVENT_OBJECT,
  checkPayskeObject,
  parsePayskeEvent,
  payskeJobId,
  readPayskeDelivery,
  toPayskeNotification,
} from "./schemas";
export type { PayskeChange, PayskeEvent, PayskeNotification } from "./schemas";
export {
  DEFAULT_TOLERANCE_SECONDS,
  PAYSKE_SIGNATURE_HEADER,
  parseSignatureHeader,
  payskeSignature,
  signForTest,
  verifyPayskeSignature,
} from "./verify";
export { createPayskeModule, payskeModule, stripeModule } from "./module";
export { payskeSimulatorFor } from "./simulator";
export type { PayskeSimulatorOptions } from "./simulator";
export { payskeConfigFor } from "./config";
export type { PayskeSettings } from "./config";
