import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { serveDaemonSocket } from "../../../agent/daemon-socket.ts";
import { settingsDigest } from "../../../localgit/daemon-socket.ts";
import type { DaemonRequest } from "../../../protocol/daemon-request.ts";
import { tempDir } from "../../helpers/git.ts";
import { loadedModulesArgs } from "../../helpers/loaded-modules.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ENTRY = join(ROOT, "gitstore/remote-helper/through-daemon.ts");

/**
 * The part of the remote helper that asks a running daemon (what the launcher starts where the repository
 * has a daemon's socket), against the daemon's real socket server: what it tells git is the daemon's answer
 * as it is, the requests carry git's commands and the settings digest, and it loads nothing but the socket
 * and the messages (the helper itself, the S3 client and git's wrappers stay unloaded).
 */
describe("the remote helper asking the daemon", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => (scratch = await tempDir("helper-through-daemon")));
  after(async () => scratch.remove());

  it("relays the daemon's answers to git, asks with git's commands and its settings, and loads only the socket and the messages", async () => {
    const gitDir = join(scratch.path, "repo.git");
    await mkdir(join(gitDir, "cloudbridge"), { recursive: true });
    const asked: DaemonRequest[] = [];
    const oid = "a".repeat(40);
    const service = await serveDaemonSocket(join(gitDir, "cloudbridge"), async (request) => {
      asked.push(request);
      if (request.ask === "remote-list") return { output: `${oid} refs/heads/main\n\n`, stderr: ["warning: listed"], progress: [] };
      if (request.ask === "remote-push")
        return { output: "ok refs/heads/main\nerror refs/heads/old non-fast-forward\n\n", stderr: [], progress: ["uploading"] };
      return { output: "\n", stderr: [], progress: [] };
    });
    try {
      const modules = join(scratch.path, "modules");
      const env = { ...process.env, GIT_DIR: gitDir, CLOUDBRIDGE_TEST_LOADED_MODULES: modules };
      const child = spawn(
        process.execPath,
        ["--disable-warning=ExperimentalWarning", ...loadedModulesArgs(), ENTRY, "origin", "cloudbridge::s3://bucket/repo"],
        { env, stdio: ["pipe", "pipe", "pipe"] },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((done) => child.once("close", done));
      child.stdin.end(
        [
          "capabilities",
          "option verbosity 2",
          "option dry-run false",
          "option atomic true",
          "list for-push",
          "push refs/heads/main:refs/heads/main",
          "push +refs/heads/old:refs/heads/old",
          "",
          `fetch ${oid} refs/heads/main`,
          "",
          "",
        ].join("\n"),
      );
      assert.equal(await exited, 0, stderr);
      assert.equal(
        stdout,
        [
          "fetch\npush\noption\n\n",
          "ok\nok\nunsupported\n",
          `${oid} refs/heads/main\n\n`,
          "ok refs/heads/main\nerror refs/heads/old non-fast-forward\n\n",
          "\n",
        ].join(""),
      );
      assert.equal(stderr, "warning: listed\ncloudbridge: uploading\n", "warnings always, progress lines at verbosity 2");
      const settings = settingsDigest(env);
      const url = "cloudbridge::s3://bucket/repo";
      assert.deepEqual(
        asked.map((request) => ({ ...request })),
        [
          { version: 1, ask: "remote-list", url, settings, forPush: true },
          {
            version: 1,
            ask: "remote-push",
            url,
            settings,
            commands: ["push refs/heads/main:refs/heads/main", "push +refs/heads/old:refs/heads/old"],
            dryRun: false,
          },
          { version: 1, ask: "remote-fetch", url, settings, commands: [`fetch ${oid} refs/heads/main`] },
        ],
      );
      const loaded = (await readFile(modules, "utf8"))
        .split("\n")
        .filter((line) => line.startsWith("file:") && !line.includes("/test/helpers/"))
        .map((line) => relative(ROOT, fileURLToPath(line)))
        .sort();
      assert.deepEqual(loaded, ["gitstore/remote-helper/through-daemon.ts", "localgit/daemon-socket.ts", "protocol/daemon-request.ts"]);
    } finally {
      await service?.close();
    }
  });
});
