import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { fetchRefs, push } from "../../../gitstore/index.ts";
import { S3ObjectStore } from "../../../objectstore/index.ts";
import { BucketLayout } from "../../../protocol/index.ts";
import { makeAgentRepo } from "../../helpers/annex-repos.ts";
import { commitFile, git, GIT_ENV, initRepo } from "../../helpers/git.ts";
import type { TestCloud } from "../../helpers/local-cloud.ts";
import { startStack, synthCloudAssembly, TWO_AGENTS, type RunningStack } from "../../helpers/stack-cloud.ts";

const run = promisify(execFile);
const PUSHERS = 8;
const FILES = 8;
const MiB = 1024 * 1024;

describe("cloudbridge local --stack --faults conflict=0.05,slowdown=0.05: S3's 409 and 503 during concurrent pushes and annex uploads", () => {
  let stack: RunningStack;
  let work: string;
  let alice: { accessKeyId: string; secretAccessKey: string };
  let s3: S3Client;
  let store: S3ObjectStore;
  const layout = new BucketLayout();

  before(async () => {
    stack = await startStack(synthCloudAssembly(TWO_AGENTS), ["--faults", "conflict=0.05,slowdown=0.05"]);
    alice = await stack.agentCredentials("alice");
    s3 = new S3Client({ region: stack.region, endpoint: stack.endpoint, credentials: alice, forcePathStyle: true, maxAttempts: 5 });
    store = new S3ObjectStore(stack.outputs.BucketName!, s3);
    work = await mkdtemp(join(tmpdir(), "cloudbridge-stack-faults-"));
  });
  after(async () => {
    s3?.destroy();
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(`${PUSHERS} pushers and ${FILES * 2} annex uploads with agent A's key: nothing lost, nothing recorded present that is absent, plain git reads the bucket`, async () => {
    const bucket = stack.outputs.BucketName!;
    const origin = join(work, "origin");
    await mkdir(origin);
    const gitDir = await initRepo(origin);
    const base = await commitFile(origin, "README", "base\n");
    await push({ store, layout, repo: "notes", gitDir, agent: randomUUID(), updates: [{ ref: "refs/heads/main", oid: base }] });
    const pushers = await Promise.all(
      Array.from({ length: PUSHERS }, async (_, i) => {
        const dir = join(work, `pusher-${i}`);
        await git(work, "clone", "-q", origin, dir);
        // Some weight in each push, so packs are real and several requests go by per push.
        const oid = await commitFile(dir, `from-${i}.txt`, `pusher ${i}\n${randomBytes(64 * 1024).toString("base64")}\n`);
        return { dir, oid };
      }),
    );

    // The annex side: one agent repository with small files (one PUT each) and multipart-sized ones.
    const cloudShape = { cloud: { bucket, region: stack.region, endpoint: stack.endpoint }, s3 } as unknown as TestCloud;
    const annexRepo = await makeAgentRepo(join(work, "annex"), cloudShape, "notes", "agent A");
    const keys: { key: string; size: number }[] = [];
    for (let i = 0; i < FILES * 2; i++) {
      const size = i < FILES ? 1024 + i : 6 * MiB + i;
      const path = join(annexRepo.dir, `file-${i}.bin`);
      await writeFile(path, randomBytes(size));
      keys.push({ key: await annexRepo.annex.add(path), size });
    }

    const env = {
      ...process.env,
      ...GIT_ENV,
      AWS_ENDPOINT_URL: stack.endpoint,
      AWS_REGION: stack.region,
      AWS_ACCESS_KEY_ID: alice.accessKeyId,
      AWS_SECRET_ACCESS_KEY: alice.secretAccessKey,
    };
    const [outcomes, uploads] = await Promise.all([
      Promise.all(
        pushers.map(async ({ dir, oid }) => {
          const { stdout } = await run(
            process.execPath,
            ["--disable-warning=ExperimentalWarning", "test/helpers/push-worker.ts", bucket, "notes", join(dir, ".git"), randomUUID(), oid],
            { env },
          );
          return JSON.parse(stdout) as { results: { status: string }[] };
        }),
      ),
      annexRepo.annex.upload(
        keys.map(({ key }) => ({ key })),
        { partSize: 5 * MiB, multipartThreshold: 5 * MiB },
      ),
    ]);

    const injected = stack.stderr();
    assert.match(injected, /injected 409 ConditionalRequestConflict/, "conflicts were injected");
    assert.match(injected, /injected 503 SlowDown/, "slow-downs were injected");

    // Git: every pusher's commit is reachable from main; every pack the bucket lists is there, whole.
    assert.deepEqual(
      outcomes.map((o) => o.results[0]!.status).filter((s) => s !== "merged" && s !== "updated"),
      [],
    );
    const reader = join(work, "reader");
    await mkdir(reader);
    await fetchRefs({ store, layout, repo: "notes", gitDir: await initRepo(reader) });
    for (const { oid } of pushers) await git(reader, "merge-base", "--is-ancestor", oid, "refs/remotes/cloud/main");
    const infoPacks = await store.get(layout.infoPacks("notes"));
    assert.ok(infoPacks && infoPacks !== "not-modified");
    for (const line of infoPacks.body.toString("utf8").split("\n").filter(Boolean)) {
      const name = line.replace(/^P /, "").replace(/\.pack$/, "");
      assert.ok(await store.head(layout.pack("notes", `${name}.pack`)), `${name}.pack is listed and present`);
      assert.ok(await store.head(layout.pack("notes", `${name}.idx`)), `${name}.idx is listed and present`);
    }

    // Annex: every key the upload reports in the cloud is there, with its full size.
    for (const { key, size } of keys) {
      assert.ok(uploads.get(key), `${key} has an outcome`);
      const head = await store.head(layout.annexObject("notes", key));
      assert.equal(head?.size, size, `${key} is in the bucket whole`);
    }
    await annexRepo.sync();
    for (const { key } of keys) {
      assert.ok(
        (await annexRepo.annex.whereis(key)).some((l) => l.description === "cloud"),
        `${key} is recorded in the cloud`,
      );
    }

    // Plain git: a copy of the repository's prefix on disk clones and passes fsck.
    const copy = join(work, "copy", "notes.git");
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "repos/notes.git/", ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const path = join(copy, object.Key!.slice("repos/notes.git/".length));
        // A key ending in "/" is a folder object (format 3 keeps an empty `refs/`, which git needs): a folder on disk.
        if (object.Key!.endsWith("/")) {
          await mkdir(path, { recursive: true });
          continue;
        }
        const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }))).Body!.transformToByteArray();
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, body);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const plain = join(work, "plain");
    await git(work, "clone", "-q", copy, plain);
    await git(plain, "fsck", "--strict", "--no-dangling");
    for (let i = 0; i < PUSHERS; i++) assert.match(await git(plain, "show", `HEAD:from-${i}.txt`), new RegExp(`^pusher ${i}\\n`));
  });
});
