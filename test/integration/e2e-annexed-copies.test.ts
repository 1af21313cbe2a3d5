import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { agentEnv, cliOk, startDaemon, waitUntil, type Daemon } from "../helpers/agents.ts";
import { tempDir } from "../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../helpers/local-cloud.ts";

/**
 * One annexed content under several names (a copy, or a rename that arrives while the content is on its
 * way): once the content is downloaded, every file that is its pointer gets it, not only the one its
 * download job named. The reconcile interval is long, so only the download itself can place them.
 */
describe("annexed content under several names", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  const daemons: Daemon[] = [];
  before(async () => {
    scratch = await tempDir("e2e-copies");
    t = await startTestCloud();
  });
  after(async () => {
    for (const d of daemons) await d.stop();
    await t.stop();
    await scratch.remove();
  });

  it("every copy of a downloaded file gets the content", async () => {
    const env = agentEnv(t.cloud.env);
    const url = "s3://cloudbridge/copies";
    const A = join(scratch.path, "a");
    const B = join(scratch.path, "b");
    await cliOk(["init", A, "--remote", url, "--topic-arn", t.cloud.topicArn], env);
    await cliOk(["clone", url, B, "--topic-arn", t.cloud.topicArn], env);
    for (const dir of [A, B])
      execFileSync("git", ["config", "cloudbridge.largefiles.minsize", "64k"], { env: { ...process.env, GIT_DIR: join(dir, ".git") } });
    const flags = ["--listen", "sqs", "--reconcile-interval", "600", "--debounce", "50"];
    daemons.push(await startDaemon(A, env, flags), await startDaemon(B, env, flags));

    const content = randomBytes(256 * 1024);
    const names = ["photo.jpg", "photo copy.jpg", "backup/photo.jpg"];
    await writeFile(join(A, names[0]!), content);
    await mkdir(join(A, "backup"));
    await Promise.all(names.slice(1).map((name) => writeFile(join(A, name), content)));
    const has = async (name: string) => (await readFile(join(B, name)).catch(() => undefined))?.equals(content) === true;
    await waitUntil(
      async () => (await Promise.all(names.map(has))).every(Boolean) || undefined,
      "every copy's content on B",
      30_000,
      100,
    ).catch(async (error: Error) => {
      const state = await Promise.all(
        names.map(async (n) => `${n}: ${(await readFile(join(B, n)).catch(() => Buffer.alloc(0))).subarray(0, 60).toString("latin1")}`),
      );
      error.message += `\n${state.join("\n")}`;
      throw error;
    });
    assert.ok((await Promise.all(names.map(has))).every(Boolean));
  });
});
