import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cliOk, startDaemon, waitUntil } from "../../helpers/agents.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";
import { blobId, inHistory, missingFrom, versionOf, type Version } from "../../helpers/versions.ts";

/**
 * kill -9 of a daemon at random moments (while it starts, scans, commits, pushes, merges, uploads,
 * downloads), 20 times, while both machines keep editing: after every kill no file in the folder is
 * partial or corrupted (each is a version someone wrote, or the pointer of one), and after a last restart
 * `git fsck` is clean, the folders converge and every version written is reachable.
 */
const KILLS = 20;
const MINSIZE = 4096;

describe("kill -9 at random moments", () => {
  const bed = useAgentCloud("e2e-kill");

  it(`loses nothing across ${KILLS} kills and converges`, async () => {
    const env = bed.env;
    const url = "s3://cloudbridge/kill";
    const A = bed.path("a");
    const B = bed.path("b");
    const flags = ["--debounce", "30", "--reconcile-interval", "3"];
    const common = ["--topic-arn", bed.t.cloud.topicArn, "--listen", "sqs"];
    await cliOk(["init", A, "--remote", url, ...common], env);
    await cliOk(["clone", url, B, ...common], env);
    for (const dir of [A, B])
      execFileSync("git", ["config", "cloudbridge.largefiles.minsize", String(MINSIZE)], {
        env: { ...process.env, GIT_DIR: join(dir, ".git") },
      });
    await bed.daemon(B, flags);

    const versions: Version[] = [];
    const known = new Set<string>(); // blob ids of every content and pointer written
    let counter = 0;
    const write = async (dir: string, annexed: boolean) => {
      const name = `${dir === A ? "a" : "b"}${counter++}.${annexed ? "bin" : "txt"}`;
      const content = annexed
        ? randomBytes(MINSIZE + 100 + Math.floor(Math.random() * 20000))
        : Buffer.from(`${name} ${randomBytes(6).toString("hex")}\n`);
      await writeFile(join(dir, name), content);
      const version = versionOf(name, content, annexed);
      versions.push(version);
      known.add(blobId(content)).add(version.blob);
      return { name, version };
    };
    const files = async (dir: string) => (await readdir(dir)).filter((n) => !n.startsWith("."));

    for (let kill = 0; kill < KILLS; kill += 1) {
      const daemon = await startDaemon(A, env, flags, { ready: false });
      const deadline = Date.now() + 200 + Math.random() * 1500;
      while (Date.now() < deadline) {
        await write(A, Math.random() < 0.3);
        // B edits too, so A has merges and downloads to do when it is killed.
        if (Math.random() < 0.5) await write(B, Math.random() < 0.3);
        // Remove or rewrite a file of A's only once its version is safely in A's history.
        const old = (await files(A)).find((n) => n.startsWith("a") && versions.some((v) => v.path === n && inHistory(A, "main", v.blob)));
        if (old && Math.random() < 0.3) await rm(join(A, old));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 80));
      }
      await daemon.kill9();

      for (const name of await files(A)) {
        const content = await readFile(join(A, name));
        assert.ok(known.has(blobId(content)), `after kill ${kill + 1}, ${name} holds content nobody wrote (${content.length} bytes)`);
      }
    }

    await bed.daemon(A, flags);
    const head = (dir: string) =>
      execFileSync("git", ["rev-parse", "main"], { env: { ...process.env, GIT_DIR: join(dir, ".git") } })
        .toString()
        .trim();
    const snapshot = async (dir: string) => {
      const out: Record<string, string> = {};
      for (const name of (await files(dir)).sort()) out[name] = blobId(await readFile(join(dir, name)));
      return JSON.stringify(out);
    };
    const diagnose = async (error: Error): Promise<never> => {
      const [sa, sb] = (await Promise.all([snapshot(A), snapshot(B)])).map((j) => JSON.parse(j) as Record<string, string>);
      const differ = [...new Set([...Object.keys(sa!), ...Object.keys(sb!)])].filter((k) => sa![k] !== sb![k]);
      const trouble = bed.daemons.flatMap((d) =>
        d.events.filter((e) => e.level !== "info").map((e) => `${d.dir.slice(-1)}: ${JSON.stringify(e)}`),
      );
      throw new Error(
        `${error.message}: heads ${head(A)} / ${head(B)}, files differing: ${differ.join(", ")}; warnings:\n${trouble.slice(-20).join("\n")}`,
      );
    };
    await waitUntil(
      async () => (head(A) === head(B) && (await snapshot(A)) === (await snapshot(B))) || undefined,
      "A and B to converge",
      120_000,
      300,
    ).catch(diagnose);
    // Checked at rest: `git fsck` reads packs and reflogs as plain files, and a daemon's `gc --auto` or ref
    // update under it reads as corruption.
    for (const d of bed.daemons) if (d.process.exitCode === null && d.process.signalCode === null) assert.equal(await d.stop(), 0);
    for (const dir of [A, B]) {
      execFileSync("git", ["fsck", "--no-progress"], { env: { ...process.env, GIT_DIR: join(dir, ".git") } });
      assert.deepEqual(missingFrom(dir, versions), [], `every version written is reachable from ${dir}`);
    }
    const pointers = [];
    for (const name of await files(A))
      if ((await readFile(join(A, name), "utf8").catch(() => "")).startsWith("/annex/objects/")) pointers.push(name);
    assert.deepEqual(pointers, [], "every annexed file has its content in place");
    process.stderr.write(`# ${KILLS} kills, ${versions.length} versions written, ${(await files(A)).length} files at the end\n`);
  });
});
