import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { useAgentPair } from "../../helpers/test-bed.ts";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { TestCloud } from "../../helpers/local-cloud.ts";
import type { AgentRepo } from "../../helpers/annex-repos.ts";
import { runCli } from "../../helpers/annex-child.ts";

describe("fsck and get report damage and never repair by deleting", () => {
  let test: TestCloud;
  let root: string;
  let a: AgentRepo;
  let b: AgentRepo;
  const pair = useAgentPair("vault");
  const keys: string[] = [];

  before(async () => {
    ({ test, root, a, b } = pair);
    for (const name of ["good.bin", "local-damage.bin", "cloud-damage.bin"]) {
      writeFileSync(join(a.dir, name), randomBytes(64 * 1024));
      keys.push(await a.annex.add(join(a.dir, name)));
    }
    await a.annex.upload(keys.map((key) => ({ key })));
  });

  it("fsck reports a damaged local copy and a damaged cloud object, and leaves both in place", async () => {
    const clean = await runCli(test, a.dir, ["fsck"]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stderr, /checked 3 key\(s\) here, 0 problem/);

    const damagedLocal = a.annex.local.objectPath(keys[1]!);
    chmodSync(damagedLocal, 0o644);
    writeFileSync(damagedLocal, randomBytes(64 * 1024));
    await test.s3.send(new PutObjectCommand({ Bucket: test.cloud.bucket, Key: `annex/vault/${keys[2]}`, Body: randomBytes(64 * 1024) }));

    const local = await runCli(test, a.dir, ["fsck", "--json"]);
    assert.equal(local.code, 1);
    const problems = local.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { key: string; where: string; error: string });
    assert.deepEqual(
      problems.map((p) => [p.key, p.where]),
      [[keys[1], "here"]],
    );
    assert.match(problems[0]!.error, /the local copy is damaged: its sha256 is [0-9a-f]{64}, the key says/);
    assert.ok(existsSync(damagedLocal), "the damaged copy is still there for a person to look at");

    const cloud = await runCli(test, a.dir, ["fsck", "--from", "cloud"]);
    assert.equal(cloud.code, 1);
    assert.match(cloud.stdout, new RegExp(`fsck ${keys[2]} \\(cloud\\): the object is damaged`));
    assert.doesNotMatch(cloud.stdout, new RegExp(keys[0]!));
    assert.match(cloud.stderr, /checked 3 key\(s\) in the cloud, 1 problem/);
    assert.ok(await a.annex.cloud.store.head(`annex/vault/${keys[2]}`), "the damaged object is not deleted");
  });

  it("get refuses the damaged cloud object with a clear error; the local copy stays absent", async () => {
    const got = await runCli(test, b.dir, ["get", "--key", keys[2]!, "--key", keys[0]!]);
    assert.equal(got.code, 1);
    assert.match(got.stderr, /Refused annex\/vault\/.*: its bytes do not match the key .* The local copy stays absent/);
    assert.match(got.stderr, /1 of 2 file\(s\) could not be got/);
    assert.equal(await b.annex.local.has(keys[2]!), false);
    assert.equal(await b.annex.local.has(keys[0]!), true, "the good one arrived");
    assert.deepEqual(readFileSync(b.annex.local.objectPath(keys[0]!)), readFileSync(a.annex.local.objectPath(keys[0]!)));
  });

  it("bad input: a malformed key and a folder without cloudbridge settings get clear errors", async () => {
    const badKey = await runCli(test, a.dir, ["get", "--key", "not-a-key"]);
    assert.equal(badKey.code, 2);
    assert.match(badKey.stderr, /"not-a-key" is not a git-annex key/);
    const plain = join(root, "plain");
    mkdirSync(plain);
    execFileSync("git", ["init", "-q", plain]);
    const notSetUp = await runCli(test, plain, ["whereis"]);
    assert.equal(notSetUp.code, 2);
    assert.match(
      notSetUp.stderr,
      /is not a cloudbridge folder \(its git config lacks .*\): run `cloudbridge init .* --remote s3:\/\/BUCKET\/REPO` or `cloudbridge clone/,
    );
  });
});
