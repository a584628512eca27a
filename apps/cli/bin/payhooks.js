#!/usr/bin/env node
// `npx payhooks …` — the built CLI (npm ci builds it through the root `prepare` script).
require("../dist/payhooks.js")
  .main(process.argv)
  .then((code) => process.exit(code));
