import assert from "node:assert/strict";
import { request } from "node:http";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { agentEnv, cliOk, startDaemon, type Daemon } from "../../helpers/agents.ts";
import { exists } from "../../helpers/folders.ts";
import { tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

/**
 * Nothing else on the machine drives the daemon's page: no token → 401; a Host that is not the page's own
 * (DNS rebinding) → refused; a write from another origin, from another site, or without the token header
 * → refused, and nothing changes; the server listens on 127.0.0.1 only; the file holding the token is 0600.
 */
interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function raw(port: number, options: { method?: string; path?: string; headers?: Record<string, string>; body?: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method: options.method ?? "GET", path: options.path ?? "/", headers: options.headers ?? {} },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("the daemon's page refuses everyone but its own page", () => {
  let cloud: TestCloud;
  let scratch: { path: string; remove(): Promise<void> };
  let daemon: Daemon;
  let A: string;
  let port: number;
  let token: string;
  let host: string;
  let cookie: string;
  let folderId: string;

  before(async () => {
    cloud = await startTestCloud();
    scratch = await tempDir("page-security");
    const env = agentEnv(cloud.cloud.env);
    A = join(scratch.path, "a");
    await mkdir(A);
    await writeFile(join(A, "x.txt"), "x\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/secure"], env);
    daemon = await startDaemon(A, env, ["--poll-interval", "600"]);
    const url = new URL(JSON.parse((await cliOk(["open", A, "--json"], env)).stdout).url as string);
    port = Number(url.port);
    token = url.searchParams.get("token")!;
    host = `127.0.0.1:${port}`;
    const login = await raw(port, { path: `/?token=${token}`, headers: { host } });
    assert.equal(login.status, 303);
    cookie = String(login.headers["set-cookie"]).split(";")[0]!;
    folderId = (
      JSON.parse((await raw(port, { path: "/api/status", headers: { host, cookie } })).body) as { folders: Array<{ agent: string }> }
    ).folders[0]!.agent;
  });
  after(async () => {
    await daemon?.stop();
    await cloud?.stop();
    await scratch?.remove();
  });

  it("answers 401 without the token (or with a wrong one), for the page, its files, the API and the events", async () => {
    for (const path of ["/", "/static/app.js", "/vendor/preact.mjs", "/api/status", "/api/events", `/api/folders/${folderId}/conflicts`]) {
      assert.equal((await raw(port, { path, headers: { host } })).status, 401, path);
      assert.equal((await raw(port, { path, headers: { host, cookie: `cloudbridge-${port}=wrong` } })).status, 401, path);
    }
    assert.equal((await raw(port, { path: "/?token=wrong", headers: { host } })).status, 401);
    const ok = await raw(port, { path: "/api/status", headers: { host, cookie } });
    assert.equal(ok.status, 200, "the same request with the token is answered");
  });

  it("refuses a Host that is not the page's own (DNS rebinding), even with the token", async () => {
    for (const wrong of [`evil.example:${port}`, "evil.example", `127.0.0.1:${port + 1}`, `127.0.0.1.nip.io:${port}`]) {
      const answer = await raw(port, { path: "/api/status", headers: { host: wrong, cookie } });
      assert.equal(answer.status, 421, wrong);
    }
    assert.equal((await raw(port, { path: "/api/status", headers: { host: `localhost:${port}`, cookie } })).status, 200);
  });

  it("refuses a cross-origin or cross-site write, or one without the token header, and nothing changes", async () => {
    const pause = (headers: Record<string, string>) =>
      raw(port, {
        method: "POST",
        path: `/api/folders/${folderId}/pause`,
        headers: { host, cookie, "content-type": "application/json", ...headers },
        body: "{}",
      });
    const refused: Array<Record<string, string>> = [
      { origin: "http://evil.example", "x-cloudbridge-token": token },
      { origin: `http://127.0.0.1:${port + 1}`, "x-cloudbridge-token": token },
      { origin: `https://127.0.0.1:${port}`, "x-cloudbridge-token": token },
      { "x-cloudbridge-token": token },
      { origin: `http://${host}`, "x-cloudbridge-token": token, "sec-fetch-site": "cross-site" },
      { origin: `http://${host}`, "x-cloudbridge-token": token, "sec-fetch-site": "same-site" },
      { origin: `http://${host}` },
      { origin: `http://${host}`, "x-cloudbridge-token": "wrong" },
    ];
    for (const headers of refused) {
      const answer = await pause(headers);
      // A wrong token is not this page's (401); the rest carry the right one and are refused as writes (403).
      assert.equal(answer.status, headers["x-cloudbridge-token"] === "wrong" ? 401 : 403, JSON.stringify(headers));
    }
    assert.equal(await exists(join(A, ".git", "cloudbridge", "paused")), false, "no refused request paused the folder");
    const allowed = await pause({ origin: `http://${host}`, "x-cloudbridge-token": token, "sec-fetch-site": "same-origin" });
    assert.equal(allowed.status, 200, allowed.body);
    assert.equal(await exists(join(A, ".git", "cloudbridge", "paused")), true, "the page's own request is carried out");
  });

  it("listens on 127.0.0.1 only, and keeps its token in a file only its user reads", async () => {
    const listening = (await readFile("/proc/net/tcp", "utf8"))
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[3] === "0A" && Number.parseInt(fields[1]!.split(":")[1]!, 16) === port);
    assert.deepEqual(
      listening.map((fields) => fields[1]!.split(":")[0]),
      ["0100007F"],
      "one listening socket, on 127.0.0.1",
    );
    const tcp6 = await readFile("/proc/net/tcp6", "utf8").catch(() => "");
    assert.ok(
      !tcp6.split("\n").some((line) => line.includes(`:${port.toString(16).toUpperCase().padStart(4, "0")} `) && / 0A /.test(line)),
      "not on IPv6",
    );
    assert.equal((await stat(join(A, ".git", "cloudbridge", "page.json"))).mode & 0o777, 0o600);
  });
});
