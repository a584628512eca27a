// The ceiling: a bare Express server that reads a POST body and answers 200.
const express = require("express");
const app = express();
app.post("/", express.raw({ type: () => true, limit: "256kb" }), (_req, res) => res.status(200).json({ ok: true }));
const server = app.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("bare listening"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
