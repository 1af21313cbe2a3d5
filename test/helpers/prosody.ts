import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A real prosody XMPP server for one test file: unprivileged, from its own config file in a temporary
 * directory, listening for clients on a free loopback port, plaintext with PLAIN auth allowed (loopback
 * only; never a setting for a real server). Accounts are registered with prosodyctl, as an admin would.
 */
export interface TestProsodyOptions {
  domain?: string;
  /**
   * TLS with a self-signed certificate for the domain: STARTTLS required on the client port, and a
   * direct-TLS port (`xmpps://`). Clients must trust `caFile` (NODE_EXTRA_CA_CERTS, read at process start).
   */
  tls?: boolean;
  /** SASL mechanisms the server must not offer (e.g. ["SCRAM-SHA-1"] to leave only PLAIN). */
  disableMechanisms?: string[];
  /** Loopback addresses to listen on (default 127.0.0.1 only). */
  interfaces?: string[];
}

export interface TestProsody {
  /** The XMPP domain (a VirtualHost): "localhost". */
  readonly domain: string;
  readonly port: number;
  /** `xmpp://127.0.0.1:<port>`: what @xmpp/client takes as `service`. */
  readonly service: string;
  /** With `tls`: the direct-TLS port and its `xmpps://127.0.0.1:<port>` service, and the certificate to trust. */
  readonly tlsPort: number | undefined;
  readonly tlsService: string | undefined;
  readonly caFile: string | undefined;
  readonly dir: string;
  /** Registers `user@domain` with `password`; returns the bare JID. */
  register(user: string, password: string): Promise<string>;
  /** Stops the server (the accounts stay; `start()` brings it back on the same port). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
  /** The server's log, for a failing test's message. */
  log(): Promise<string>;
}

export async function startProsody(options: TestProsodyOptions = {}): Promise<TestProsody> {
  const domain = options.domain ?? "localhost";
  const dir = await mkdtemp(join(tmpdir(), "cloudbridge-prosody-"));
  await mkdir(join(dir, "data"));
  await mkdir(join(dir, "certs"));
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const config = join(dir, "prosody.cfg.lua");
  const lua = (value: string) => JSON.stringify(value);
  const list = (values: readonly string[]) => `{ ${values.map(lua).join("; ")} }`;
  const interfaces = options.interfaces ?? ["127.0.0.1"];
  let caFile: string | undefined;
  const tlsLines: string[] = [];
  if (options.tls) {
    const key = join(dir, "certs", `${domain}.key`);
    caFile = join(dir, "certs", `${domain}.crt`);
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${domain}`,
      "-addext",
      `subjectAltName=${[`DNS:${domain}`, ...interfaces.map((ip) => `IP:${ip}`)].join(",")}`,
      "-keyout",
      key,
      "-out",
      caFile,
    ]);
    tlsLines.push(
      `ssl = { certificate = ${lua(caFile)}; key = ${lua(key)} }`,
      "c2s_require_encryption = true",
      `c2s_direct_tls_ports = { ${tlsPort} }`,
      `c2s_direct_tls_interfaces = ${list(interfaces)}`,
    );
  }
  await writeFile(
    config,
    [
      // The tests may run as root (CI containers): prosody refuses to unless told.
      "run_as_root = true",
      "daemonize = false",
      `pidfile = ${lua(join(dir, "prosody.pid"))}`,
      `data_path = ${lua(join(dir, "data"))}`,
      `certificates = ${lua(join(dir, "certs"))}`,
      `log = { { levels = { min = "info" }, to = "file", filename = ${lua(join(dir, "prosody.log"))} } }`,
      `interfaces = ${list(interfaces)}`,
      `c2s_interfaces = ${list(interfaces)}`,
      `c2s_ports = { ${port} }`,
      ...(options.tls ? [] : ["c2s_direct_tls_ports = { }"]),
      "legacy_ssl_ports = { }",
      `modules_enabled = ${list(["roster", "saslauth", "disco", "ping", "presence", "message", "iq", ...(options.tls ? ["tls"] : [])])}`,
      // No server-to-server, no HTTP: nothing listens beyond the one loopback client port.
      'modules_disabled = { "s2s"; "offline"; "http" }',
      ...(options.tls ? tlsLines : ["c2s_require_encryption = false", "allow_unencrypted_plain_auth = true"]),
      ...(options.disableMechanisms ? [`disable_sasl_mechanisms = ${list(options.disableMechanisms)}`] : []),
      'authentication = "internal_hashed"',
      'storage = "internal"',
      `VirtualHost ${lua(domain)}`,
      "",
    ].join("\n"),
  );

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const log = async () => readFile(join(dir, "prosody.log"), "utf8").catch(() => "");

  const start = async () => {
    if (child) return;
    const proc = spawn("prosody", ["-F", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    child = proc;
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port)) || (tlsPort !== undefined && !(await accepts(tlsPort)))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`prosody did not start on 127.0.0.1:${port}: ${stderr}\n${await log()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const stop = async () => {
    if (!child) return;
    const proc = child;
    child = undefined;
    if (proc.exitCode === null) proc.kill("SIGTERM");
    await exited;
  };

  await start();
  return {
    domain,
    port,
    service: `xmpp://127.0.0.1:${port}`,
    tlsPort,
    tlsService: tlsPort === undefined ? undefined : `xmpps://127.0.0.1:${tlsPort}`,
    caFile,
    dir,
    register: async (user, password) => {
      await run("prosodyctl", ["--config", config, "register", user, domain, password]);
      return `${user}@${domain}`;
    },
    start,
    stop,
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    log,
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== "object" || !address) throw new Error("could not pick a free port");
  return address.port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}
