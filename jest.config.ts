import type { Config } from "jest";

/** How every project loads TypeScript and the workspace packages. */
const base = {
  testEnvironment: "node",
  roots: ["<rootDir>/apps", "<rootDir>/packages"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.test.json" }] },
  // Resolve workspace packages to their sources, not to a dist/ that may be stale or missing.
  moduleNameMapper: { "^@payhooks/([^/]+)$": "<rootDir>/packages/$1/src" },
  restoreMocks: true,
} satisfies Config;

const config: Config = {
  testTimeout: 30_000,
  projects: [
    // Every test, each against what it starts itself (one private redis-server for the e2e files).
    { ...base, displayName: "payhooks", testMatch: ["**/src/**/*.test.ts"] },
    // The end-to-end suite again, against a private 3-master Redis Cluster (startTestRedis()).
    {
      ...base,
      displayName: "e2e:cluster",
      // Listed, not globbed: a file joins once it starts its Redis with startTestRedis().
      testMatch: ["**/apps/ingress/src/{e2e,payme.e2e,payske.e2e,robokassa.e2e,money-safety.e2e,corpus.e2e,click.e2e,stripe.e2e}.int.test.ts"],
      setupFiles: ["<rootDir>/packages/testing/src/cluster-mode.setup.ts"],
    },
  ],
};

export default config;
