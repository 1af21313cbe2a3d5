/**
 * Syncthing (Debian's package, 1.19) serving one folder on loopback only, as the peer of the agent's
 * folder-size benchmarks: no other device, nothing announced or relayed, no usage report, the GUI/REST
 * API on 127.0.0.1 with a random key, the watcher on with `fsWatcherDelayS` 1. Missing Syncthing:
 * `apt-get install syncthing` (or BENCH_SYNCTHING=/path/to/syncthing).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const SYNCTHING = process.env.BENCH_SYNCTHING ?? "/usr/bin/syncthing";

export function syncthingMissing(): string | undefined {
  return existsSync(SYNCTHING)
    ? undefined
    : `${SYNCTHING} not found: install Syncthing (\`apt-get install syncthing\`) or set BENCH_SYNCTHING`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

export interface SyncthingFolder {
  /** Starts Syncthing and resolves once its folder is scanned and idle (the REST API says "idle"). */
  start(): Promise<ChildProcess>;
  stop(): Promise<void>;
}

/** A Syncthing home in `home` (generated once) serving `folder`; start and stop it as often as needed. */
export async function syncthingFolder(home: string, folder: string): Promise<SyncthingFolder> {
  const missing = syncthingMissing();
  if (missing) throw new Error(missing);
  await run(SYNCTHING, ["generate", `--home=${home}`, "--no-default-folder"]);
  const { stdout } = await run(SYNCTHING, ["serve", `--home=${home}`, "--device-id"]);
  const id = stdout.trim();
  const gui = await freePort();
  const apiKey = randomBytes(16).toString("hex");
  await writeFile(
    join(home, "config.xml"),
    `<configuration version="36">
  <folder id="bench" label="bench" path="${folder}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="1">
    <filesystemType>basic</filesystemType>
    <device id="${id}"></device>
    <minDiskFree unit="%">0</minDiskFree>
  </folder>
  <device id="${id}" name="self" compression="metadata" introducer="false"><address>dynamic</address></device>
  <gui enabled="true" tls="false"><address>127.0.0.1:${gui}</address><apikey>${apiKey}</apikey></gui>
  <options>
    <listenAddress>tcp://127.0.0.1:${await freePort()}</listenAddress>
    <globalAnnounceEnabled>false</globalAnnounceEnabled>
    <localAnnounceEnabled>false</localAnnounceEnabled>
    <relaysEnabled>false</relaysEnabled>
    <natEnabled>false</natEnabled>
    <urAccepted>-1</urAccepted>
    <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
    <crashReportingEnabled>false</crashReportingEnabled>
    <startBrowser>false</startBrowser>
    <minHomeDiskFree unit="%">0</minHomeDiskFree>
  </options>
</configuration>
`,
  );
  let child: ChildProcess | undefined;
  const idle = async (): Promise<boolean> => {
    const response = await fetch(`http://127.0.0.1:${gui}/rest/db/status?folder=bench`, { headers: { "X-API-Key": apiKey } }).catch(
      () => undefined,
    );
    return response?.ok === true && ((await response.json()) as { state?: string }).state === "idle";
  };
  return {
    start: async () => {
      const started = spawn(SYNCTHING, ["serve", `--home=${home}`, "--no-browser", "--no-restart", "--no-upgrade"], {
        stdio: "ignore",
        env: { ...process.env, STNORESTART: "1", STNOUPGRADE: "1" },
      });
      child = started;
      const deadline = Date.now() + 900_000;
      while (!(await idle())) {
        if (started.exitCode !== null) throw new Error(`syncthing exited ${started.exitCode}`);
        if (Date.now() > deadline) throw new Error("Syncthing's folder did not become idle within 15 minutes");
        await new Promise((r) => setTimeout(r, 50));
      }
      return started;
    },
    stop: async () => {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise<void>((done) => {
        running.once("exit", () => done());
        running.kill("SIGTERM");
      });
    },
  };
}
