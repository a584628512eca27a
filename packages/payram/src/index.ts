export { decidePayram } from "./decide";
export {
  PAYRAM_STATUSES,
  PayramWebhookSchema,
  normalizePayramStatus,
  parsePayramNotification,
  payramJobId,
} from "./schemas";
export type { PayramNotification, PayramStatus, PayramWebhook } from "./schemas";
export { INITIAL_PAYRAM_STATE, PAYRAM_TRANSITIONS, reducePayram } from "./state-machine";
export type { PayramInput, PayramOutcome, PayramState } from "./state-machine";
export { PAYRAM_API_KEY_HEADER, PAYRAM_SIGNATURE_HEADER, signForTest, verifyPayramRequest } from "./verify";
export { payramModule } from "./module";
export { payramSimulator } from "./simulator";
export { payramConfig } from "./config";
export type { PayramConfig } from "./config";
