export { decideRobokassa, outSumMinor } from "./decide";
export { firstValues, orderIdOf, readNotice, robokassaJobId, robokassaPaymentId } from "./notice";
export type { RobokassaNotice } from "./notice";
export { ROBOKASSA_HASHES, robokassaDigest, shpPairs, signForTest, signatureBase, verifyRobokassaSignature } from "./verify";
export type { RobokassaHash } from "./verify";
export { ROBOKASSA_FAIL_PATH, ROBOKASSA_RESULT_PATH, ROBOKASSA_SUCCESS_PATH, robokassaModule } from "./module";
export { robokassaSimulator } from "./simulator";
export { robokassaConfig } from "./config";
export type { RobokassaConfig } from "./config";
