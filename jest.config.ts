import type { Config } from "jest";

const config: Config = {
  testEnvironment: "node",
  roots: ["<rootDir>/apps", "<rootDir>/packages"],
  testMatch: ["**/src/**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.test.json" }] },
  // Resolve workspace packages to their sources, not to a dist/ that may be stale or missing.
  moduleNameMapper: { "^@payhooks/([^/]+)$": "<rootDir>/packages/$1/src" },
  restoreMocks: true,
  testTimeout: 30_000,
};

export default config;
