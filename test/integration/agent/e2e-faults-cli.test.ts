import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../../protocol/layout.ts";
import { cli, cliOk } from "../../helpers/agents.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";
import { startFaultProxy, type Fault, type FaultProxy } from "../../helpers/fault-proxy.ts";
import { snapshot } from "../../helpers/folders.ts";
import { git } from "../../helpers/git.ts";
import { versionOf } from "../../helpers/versions.ts";

/**
 * `init`, `clone` and `fsck --from cloud` through single, chosen faults that a person's network produces
 * now and then: each must succeed, with the same result as without the fault.
 */
describe("init, clone and fsck through single faults", () => {
  const bed = useAgentCloud("e2e-faults-cli");
  const proxies: FaultProxy[] = [];
  after(async () => {
    for (const p of proxies) await p.stop();
  });

  const through = async (script: (method: string, path: string, n: number) => Fault | undefined) => {
    const proxy = await startFaultProxy({ target: bed.t.cloud.endpoint, seed: 0, script });
    proxies.push(proxy);
    return { proxy, env: { ...bed.env, AWS_ENDPOINT_URL: proxy.endpoint } };
  };

  /** A repository with a few files, made without faults. */
  const source = async (repo: string) => {
    const dir = bed.path(`${repo}-source`);
    const env = bed.env;
    await cliOk(["init", dir, "--remote", `s3://cloudbridge/${repo}`], env);
    for (let i = 0; i < 3; i++) await writeFile(join(dir, `file ${i}.txt`), `file ${i}\n`);
    await cliOk(["sync", dir], env);
    return dir;
  };

  it("init: the probe's first write (the README's create) was applied but its answer lost; the store is still found to honour conditional writes", async () => {
    const { proxy, env } = await through((method, path, n) =>
      method === "PUT" && path.endsWith("/probed/README.txt") && n === 0 ? "resetAfter" : undefined,
    );
    // A prefix of its own, so that this init writes the deployment's format marker (and probes).
    await cliOk(["init", bed.path("probe"), "--remote", "s3://cloudbridge/probed/notes"], env);
    assert.equal(proxy.counts.resetAfter, 1);
    const store = new S3ObjectStore(bed.t.cloud.bucket, bed.t.s3);
    const layout = new BucketLayout("probed/");
    const marker = await store.get(layout.formatMarker());
    assert.ok(marker && marker !== "not-modified");
    assert.equal((JSON.parse(marker.body.toString()) as { conditionalWrites: boolean }).conditionalWrites, true);
    const readme = await store.get(layout.readme());
    assert.ok(readme && readme !== "not-modified");
    assert.match(readme.body.toString(), /This store supports conditional writes/);
    const root: string[] = [];
    for await (const info of store.list("probed/")) if (!info.key.slice("probed/".length).includes("/")) root.push(info.key);
    assert.deepEqual(root.sort(), ["probed/README.txt", "probed/cloudbridge.json"], "the probe writes nothing else");
  });

  it("clone: the first read of the refs index, every pack index and every pack is cut off mid-body", async () => {
    const dir = await source("cut");
    const { proxy, env } = await through((method, path, n) =>
      method === "GET" && n === 0 && /\/(info\/refs|[^/]+\.(pack|idx))$/.test(path) ? "cutBody" : undefined,
    );
    const clone = bed.path("cut-clone");
    await cliOk(["clone", "s3://cloudbridge/cut", clone], env);
    assert.ok(proxy.counts.cutBody >= 3, `${proxy.counts.cutBody} bodies cut`);
    assert.deepEqual(await snapshot(clone), await snapshot(dir));
  });

  it("clone: three 503s in a row on one request", async () => {
    const dir = await source("blip");
    const { proxy, env } = await through((method, path, n) =>
      method === "GET" && path.endsWith(".git/info/refs") && n < 3 ? "error503" : undefined,
    );
    const clone = bed.path("blip-clone");
    await cliOk(["clone", "s3://cloudbridge/blip", clone], env);
    assert.equal(proxy.counts.error503, 3);
    assert.deepEqual(await snapshot(clone), await snapshot(dir));
  });

  it("fsck --from cloud: the first read of every annexed object is cut off mid-body; a real mismatch is still reported", async () => {
    const dir = bed.path("fsck-source");
    const direct = bed.env;
    await cliOk(["init", dir, "--remote", "s3://cloudbridge/fsck"], direct);
    await git(dir, "config", "cloudbridge.largefiles.minsize", "1k");
    const contents = [0, 1, 2].map(() => randomBytes(64 * 1024));
    for (const [i, content] of contents.entries()) await writeFile(join(dir, `video ${i}.bin`), content);
    await cliOk(["sync", dir], direct);
    // Cuts start once the clone (whose folder keeps the proxy as its endpoint) has its content.
    let cutting = false;
    const cut = new Set<string>();
    const { proxy, env } = await through((method, path) => {
      if (!cutting || method !== "GET" || !/\/annex\/fsck\/SHA256E-/.test(path) || cut.has(path)) return undefined;
      cut.add(path);
      return "cutBody";
    });
    const clone = bed.path("fsck-clone");
    await cliOk(["clone", "s3://cloudbridge/fsck", clone], env);
    cutting = true;
    const clean = await cli(["fsck", "--from", "cloud"], env, { cwd: clone });
    assert.equal(clean.code, 0, `${clean.stderr}${clean.stdout}`);
    assert.equal(proxy.counts.cutBody, 3, "every object's first read was cut");
    assert.match(clean.stderr, /checked 3 key\(s\) in the cloud, 0 problem\(s\)/);

    // One object replaced in the bucket by other bytes of the same size: reported, even when its read is cut too.
    const damaged = versionOf("video 1.bin", contents[1]!, true).key!;
    await bed.t.s3.send(
      new PutObjectCommand({
        Bucket: bed.t.cloud.bucket,
        Key: new BucketLayout("").annexObject("fsck", damaged),
        Body: randomBytes(64 * 1024),
      }),
    );
    cut.clear();
    const found = await cli(["fsck", "--from", "cloud", "--json"], env, { cwd: clone });
    assert.equal(proxy.counts.cutBody, 6);
    assert.equal(found.code, 1, found.stderr);
    const problems = found.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { key: string; error: string });
    assert.deepEqual(
      problems.map((p) => p.key),
      [damaged],
    );
    assert.match(problems[0]!.error, /the object is damaged: its sha256 is/);
  });

  it("sync exits 3 naming a file whose content the bucket would not take, status says why, and the next sync sends it", async () => {
    let refusing = true;
    const { proxy, env } = await through((method, path) =>
      refusing && (method === "PUT" || method === "POST") && /\/annex\/.*SHA256E-/.test(path) ? "error500" : undefined,
    );
    const dir = bed.path("refused-upload");
    await cliOk(["init", dir, "--remote", "s3://cloudbridge/refused-upload"], env);
    await git(dir, "config", "cloudbridge.largefiles.minsize", "1k");
    const content = randomBytes(4096);
    await writeFile(join(dir, "big.bin"), content);
    await writeFile(join(dir, "small.txt"), "small\n");
    // One attempt per request: the upload's own retries still run, quickly.
    const once = { ...env, AWS_MAX_ATTEMPTS: "1" };
    const sync = await cli(["sync", dir, "--json"], once);
    assert.equal(sync.code, 3, `the sync says the cloud lacks content:\n${sync.stdout}${sync.stderr}`);
    const report = JSON.parse(sync.stdout) as { contentNotUploaded: Array<{ path: string; reason: string }>; committed?: string };
    assert.deepEqual(
      report.contentNotUploaded.map((n) => n.path),
      ["big.bin"],
    );
    assert.ok(report.committed, "the commit naming it was made and pushed");
    assert.match(sync.stderr, /could not upload the content of 1 file\(s\)/);
    const plain = await cli(["sync", dir], once);
    assert.equal(plain.code, 3);
    assert.match(plain.stdout, /CONTENT NOT UPLOADED "big\.bin": .*cannot get its content until it is uploaded/);
    assert.match((await cliOk(["status", dir], env)).stdout, /CONTENT NOT UPLOADED "big\.bin" \(its last attempt failed\)/);
    assert.ok(proxy.counts.error500 > 0);

    refusing = false;
    await cliOk(["sync", dir], env);
    const store = new S3ObjectStore(bed.t.cloud.bucket, bed.t.s3);
    const key = versionOf("big.bin", content, true).key!;
    assert.ok(await store.head(new BucketLayout("").annexObject("refused-upload", key)), "the content is in the cloud now");
    assert.doesNotMatch((await cliOk(["status", dir], env)).stdout, /NOT UPLOADED/);
  });
});
