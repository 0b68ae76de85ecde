// lab/imds.mjs — an EC2 instance-metadata (IMDSv2) stand-in for the S3 lab; started by lab/s3.sh.
//
//   node lab/imds.mjs ADDRESS PORT CONFIG.json
//
// CONFIG.json (re-read on every request, so it can be changed while running):
//   {"roleName", "accessKeyId", "secretAccessKey", "token", "region", "log"}
// Serves, IMDSv2 only (a GET without a valid token is 401, as with HttpTokens=required):
//   PUT /latest/api/token                                  (X-aws-ec2-metadata-token-ttl-seconds: 1..21600)
//   GET /latest/meta-data/iam/security-credentials/        -> the role name
//   GET /latest/meta-data/iam/security-credentials/ROLE    -> JSON credentials, expiring in 1 h
//   GET /latest/meta-data/placement/region, .../availability-zone, /latest/meta-data/instance-id
// Every request is appended to the log file as one JSON line:
//   {"time","method","path","token":"none"|"valid"|"invalid","status"}
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";

const [address, portText, configPath] = process.argv.slice(2);
if (!address || !portText || !configPath) {
  console.error("usage: node imds.mjs ADDRESS PORT CONFIG.json");
  process.exit(2);
}

const tokens = new Map(); // token -> expiry (ms)
const CREDS = "/latest/meta-data/iam/security-credentials/";

function config() {
  return JSON.parse(readFileSync(configPath, "utf8"));
}

function tokenState(req) {
  const t = req.headers["x-aws-ec2-metadata-token"];
  if (t === undefined) return "none";
  const exp = tokens.get(String(t));
  return exp !== undefined && exp > Date.now() ? "valid" : "invalid";
}

function handle(req, cfg) {
  const path = (req.url ?? "/").split("?")[0];
  if (path === "/latest/api/token") {
    if (req.method !== "PUT") return [405, "text/plain", ""];
    if (req.headers["x-forwarded-for"] !== undefined) return [403, "text/plain", ""];
    const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return [400, "text/plain", ""];
    const token = randomBytes(32).toString("base64url");
    tokens.set(token, Date.now() + ttl * 1000);
    return [200, "text/plain", token, { "x-aws-ec2-metadata-token-ttl-seconds": String(ttl) }];
  }
  if (req.method !== "GET" && req.method !== "HEAD") return [405, "text/plain", ""];
  if (tokenState(req) !== "valid") return [401, "text/plain", ""];
  const now = new Date();
  switch (path) {
    case CREDS:
      return [200, "text/plain", cfg.roleName];
    case CREDS + cfg.roleName:
      return [
        200,
        "text/plain",
        JSON.stringify(
          {
            Code: "Success",
            LastUpdated: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
            Type: "AWS-HMAC",
            AccessKeyId: cfg.accessKeyId,
            SecretAccessKey: cfg.secretAccessKey,
            Token: cfg.token ?? "",
            Expiration: new Date(now.getTime() + 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
          },
          null,
          2,
        ),
      ];
    case "/latest/meta-data/placement/region":
      return [200, "text/plain", cfg.region];
    case "/latest/meta-data/placement/availability-zone":
      return [200, "text/plain", cfg.region + "a"];
    case "/latest/meta-data/instance-id":
      return [200, "text/plain", "i-0123456789abcdef0"];
    default:
      return [404, "text/plain", ""];
  }
}

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    let status = 500;
    let cfg = null;
    try {
      cfg = config();
      const [code, type, body, headers = {}] = handle(req, cfg);
      status = code;
      res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(body), ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch (err) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error\n");
      console.error(`imds: ${err?.message ?? err}`);
    }
    const line = { time: new Date().toISOString(), method: req.method, path: req.url, token: tokenState(req), status };
    try {
      if (cfg?.log) appendFileSync(cfg.log, JSON.stringify(line) + "\n");
    } catch (err) {
      console.error(`imds: cannot write the request log: ${err?.message ?? err}`);
    }
  });
});

server.on("error", (err) => {
  console.error(`imds: ${err.message}`);
  process.exit(1);
});
server.listen(Number(portText), address, () => console.error(`imds: listening on http://${address}:${portText}`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
