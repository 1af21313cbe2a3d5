/**
 * git's own HTTP transport on loopback, for benchmarks: `node bench/git-http-server.ts ROOT` serves the
 * repositories under ROOT over git's smart HTTP protocol, running `git http-backend` for each request as a CGI
 * program, the way git's documentation serves it behind a web server (git-http-backend(1)). It prints its
 * origin (http://127.0.0.1:PORT) on its first line. Pushes are allowed: `REMOTE_USER` is set, which enables
 * `receive-pack` as an authenticated web server would.
 *
 * It is the native peer of a push through git-remote-cloudbridge that crosses a network protocol too: git
 * starts its HTTP helper (git-remote-https), which asks for the refs and posts the pack, and the server starts
 * `git receive-pack`. It runs in its own process, as the local cloud does.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";

const root = process.argv[2];
if (!root) throw new Error("usage: node bench/git-http-server.ts ROOT");

const server = createServer((request, response) => {
  const url = new URL(request.url ?? "/", "http://localhost");
  const backend = spawn("git", ["http-backend"], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      REMOTE_USER: "bench",
      REMOTE_ADDR: "127.0.0.1",
      REQUEST_METHOD: request.method,
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: request.headers["content-type"] ?? "",
      HTTP_CONTENT_ENCODING: request.headers["content-encoding"] ?? "",
      ...(request.headers["git-protocol"] ? { GIT_PROTOCOL: String(request.headers["git-protocol"]) } : {}),
    },
    stdio: ["pipe", "pipe", "inherit"],
  });
  request.pipe(backend.stdin);
  // A CGI answer: header lines, an empty line, then the body. `Status:` sets the HTTP status.
  let head = Buffer.alloc(0);
  let body = false;
  backend.stdout.on("data", (chunk: Buffer) => {
    if (body) return void response.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) return;
    body = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
      else response.setHeader(name, value);
    }
    response.writeHead(status);
    response.write(head.subarray(end + 4));
  });
  backend.on("close", (code) => {
    if (!body) response.writeHead(500).end(`git http-backend exited (${code}) before it answered\n`);
    else response.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") console.log(`http://127.0.0.1:${address.port}`);
});
