import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { BucketLayout } from "../../../protocol/layout.ts";
import { cli, cliOk, waitUntil } from "../../helpers/agents.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";
import { versionOf } from "../../helpers/versions.ts";

/**
 * Downloads of annexed content: one content under several names (a copy, or a rename that arrives while
 * the content is on its way) fills every file that is its pointer, not only the one its download job
 * named; content missing from the cloud does not keep the other files from theirs; and a file whose content
 * could not be had is an error the one-shot commands end with (exit 3), said file by file, and in `status`.
 */
describe("annexed content downloads", () => {
  const bed = useAgentCloud("e2e-annex-downloads");

  it("every copy of a downloaded file gets the content", async () => {
    const env = bed.env;
    const url = "s3://cloudbridge/copies";
    const A = bed.path("a");
    const B = bed.path("b");
    await cliOk(["init", A, "--remote", url, "--topic-arn", bed.t.cloud.topicArn], env);
    await cliOk(["clone", url, B, "--topic-arn", bed.t.cloud.topicArn], env);
    for (const dir of [A, B])
      execFileSync("git", ["config", "cloudbridge.largefiles.minsize", "64k"], { env: { ...process.env, GIT_DIR: join(dir, ".git") } });
    const flags = ["--listen", "sqs", "--reconcile-interval", "600", "--debounce", "50"];
    await bed.daemon(A, flags);
    await bed.daemon(B, flags);

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

  it("content missing from the cloud does not keep the other files from theirs", async () => {
    const env = bed.env;
    const url = "s3://cloudbridge/missing";
    const A = bed.path("missing-a");
    const B = bed.path("missing-b");
    await cliOk(["init", A, "--remote", url], env);
    execFileSync("git", ["config", "cloudbridge.largefiles.minsize", "1k"], { env: { ...process.env, GIT_DIR: join(A, ".git") } });
    const contents = Array.from({ length: 8 }, () => randomBytes(4096));
    await Promise.all(contents.map((content, i) => writeFile(join(A, `file-${i}.bin`), content)));
    await cliOk(["sync", A], env);
    // One object goes from the bucket (a lifecycle rule, a person's mistake): the first in the queue's order.
    const keys = contents.map((content) => versionOf("x.bin", content, true).key!).sort();
    await bed.t.s3.send(
      new DeleteObjectCommand({ Bucket: bed.t.cloud.bucket, Key: new BucketLayout("").annexObject("missing", keys[0]!) }),
    );

    // The clone reports the download it could not do; what matters here is what it did.
    const clone = await cli(["clone", url, B], env);
    const arrived = await Promise.all(contents.map(async (content, i) => (await readFile(join(B, `file-${i}.bin`))).equals(content)));
    assert.equal(
      arrived.filter(Boolean).length,
      contents.length - 1,
      `every file but the one whose content is gone: ${arrived.join(" ")}\n${clone.stdout}${clone.stderr}`,
    );
  });

  /**
   * Two machines whose largefiles rules differ, and a file only one of them would annex: A annexes files
   * from 1 KiB, B keeps its default (larger); A's 8 KiB report.bin, annexed by A's rule only, cloned to B.
   */
  async function annexedByOneRule(name: string): Promise<{ A: string; B: string }> {
    const url = `s3://cloudbridge/${name}`;
    const A = bed.path(`${name}-a`);
    const B = bed.path(`${name}-b`);
    await cliOk(["init", A, "--remote", url], bed.env);
    execFileSync("git", ["config", "cloudbridge.largefiles.minsize", "1k"], { env: { ...process.env, GIT_DIR: join(A, ".git") } });
    await writeFile(join(A, "report.bin"), randomBytes(8192));
    await cliOk(["sync", A], bed.env);
    await cliOk(["clone", url, B], bed.env);
    return { A, B };
  }

  it("a file another machine annexed stays annexed here, whatever this machine's own largefiles rule: no commit of its downloaded content, no conflict when it changes there", async () => {
    const env = bed.env;
    const { A, B } = await annexedByOneRule("rules");
    const log = (dir: string) => execFileSync("git", ["log", "--format=%an", "main"], { cwd: dir }).toString().trim().split("\n");
    const before = log(B);
    // Looked at again here (git's index names the placed content; a touch changes its time): unchanged content, no commit.
    await cliOk(["sync", B], env);
    const now = new Date();
    await utimes(join(B, "report.bin"), now, now);
    await cliOk(["sync", B], env);
    assert.deepEqual(log(B), before, "B committed nothing of a file it only downloaded");

    // A changes it: B takes the new version, with no variant of a version it never edited.
    const edited = randomBytes(8192);
    await writeFile(join(A, "report.bin"), edited);
    await cliOk(["sync", A], env);
    const synced = JSON.parse((await cliOk(["sync", B, "--json"], env)).stdout) as { variants: unknown[]; committed?: string };
    assert.deepEqual(synced.variants, [], "no conflict");
    assert.equal(synced.committed, undefined, "nothing committed on B");
    assert.deepEqual(await readdir(B).then((names) => names.filter((n) => !n.startsWith("."))), ["report.bin"]);
    assert.ok((await readFile(join(B, "report.bin"))).equals(edited), "A's version");
  });

  it("plain git agrees with the agent on a file another machine annexed: git status is clean after the clone, a touch and a checkout, and git add keeps it annexed", async () => {
    const env = bed.env;
    const { A, B } = await annexedByOneRule("plain-git");
    const plainGit = (...args: string[]) => execFileSync("git", args, { cwd: B }).toString();
    const pointer = () => plainGit("cat-file", "-p", ":report.bin");
    const committed = plainGit("cat-file", "-p", "HEAD:report.bin");
    assert.match(committed, /^\/annex\/objects\/SHA256E-s8192--/);
    assert.equal(plainGit("status", "--porcelain"), "", "nothing modified right after the clone");

    // A person's own git in B: a touch, then `git add` / `git commit -a` look at the file again.
    const now = new Date();
    await utimes(join(B, "report.bin"), now, now);
    assert.equal(plainGit("status", "--porcelain"), "", "nothing modified after a touch");
    plainGit("add", "report.bin");
    assert.equal(pointer(), committed, "git add keeps the file annexed (its pointer), not a git blob of its content");
    assert.equal(plainGit("diff", "--cached", "--name-only"), "");

    // A changes it; B's checkout of the new version leaves nothing modified either.
    await writeFile(join(A, "report.bin"), randomBytes(8192));
    await cliOk(["sync", A], env);
    await cliOk(["sync", B], env);
    assert.notEqual(plainGit("cat-file", "-p", "HEAD:report.bin"), committed, "B has A's new version");
    assert.equal(plainGit("status", "--porcelain"), "", "nothing modified right after the checkout");
  });

  it("clone and sync exit 3 naming a file whose cloud copy fails its hash check, and status says why it has no content", async () => {
    const env = bed.env;
    const url = "s3://cloudbridge/damaged";
    const A = bed.path("damaged-a");
    const B = bed.path("damaged-b");
    await cliOk(["init", A, "--remote", url], env);
    execFileSync("git", ["config", "cloudbridge.largefiles.minsize", "1k"], { env: { ...process.env, GIT_DIR: join(A, ".git") } });
    const good = randomBytes(4096);
    const damaged = randomBytes(4096);
    await writeFile(join(A, "good.bin"), good);
    await writeFile(join(A, "damaged.bin"), damaged);
    await writeFile(join(A, "small.txt"), "small\n");
    await cliOk(["sync", A], env);
    // The cloud's copy is replaced by other bytes of the same size (a damaged disk, a person in the console).
    const key = versionOf("damaged.bin", damaged, true).key!;
    await bed.t.s3.send(
      new PutObjectCommand({ Bucket: bed.t.cloud.bucket, Key: new BucketLayout("").annexObject("damaged", key), Body: randomBytes(4096) }),
    );

    const clone = await cli(["clone", url, B], env);
    assert.equal(clone.code, 3, `the clone says it is not complete:\n${clone.stdout}${clone.stderr}`);
    assert.match(clone.stdout, /NOT DOWNLOADED "damaged\.bin": .*do not match the key/);
    assert.match(clone.stderr, /could not download the content of 1 file\(s\)/);
    assert.ok((await readFile(join(B, "good.bin"))).equals(good), "the other files are complete");
    assert.equal(await readFile(join(B, "small.txt"), "utf8"), "small\n");
    assert.ok(!(await readFile(join(B, "damaged.bin"))).equals(damaged), "the damaged copy was never placed");

    const sync = await cli(["sync", B, "--json"], env);
    assert.equal(sync.code, 3, `every sync says so until it is fixed:\n${sync.stdout}${sync.stderr}`);
    const report = JSON.parse(sync.stdout) as { notDownloaded: Array<{ path: string; reason: string }> };
    assert.deepEqual(
      report.notDownloaded.map((n) => n.path),
      ["damaged.bin"],
    );
    const status = await cli(["status", B], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /NOT DOWNLOADED "damaged\.bin" \(its last attempt failed\): .*do not match the key/);

    // Put right from the machine that has it: the next sync completes, exits 0, and status no longer lists it.
    await cliOk(["drop", "--from", "cloud", "--force", "damaged.bin"], env, { cwd: A });
    await cliOk(["copy", "--to", "cloud", "damaged.bin"], env, { cwd: A });
    const fixed = await cli(["sync", B], env);
    assert.equal(fixed.code, 0, `${fixed.stdout}${fixed.stderr}`);
    assert.ok((await readFile(join(B, "damaged.bin"))).equals(damaged));
    assert.doesNotMatch((await cliOk(["status", B], env)).stdout, /NOT DOWNLOADED/);
  });
});
