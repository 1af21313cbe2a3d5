import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { SINGLE_PUT_LIMIT } from "../../../gitstore/bucket-packs.ts";
import { LightS3Client } from "../../../objectstore/s3-light-client.ts";
import { createS3Client } from "../../../objectstore/s3-object-store.ts";
import { signRequest, EMPTY_PAYLOAD_HASH } from "../../../objectstore/sigv4.ts";
import { startCountingProxy } from "../../helpers/counting-proxy.ts";
import { GIT_ENV } from "../../helpers/git.ts";
import { startStack, synthCloudAssembly, TWO_AGENTS, type RunningStack } from "../../helpers/stack-cloud.ts";

const run = promisify(execFile);
const PUSHERS = 4;

/**
 * `git push` through the remote helper as an agent with its own key meets AWS's checks: every request's
 * SigV4 signature verified (the helper signs with the light S3 client, objectstore/s3-light-client.ts, the
 * key read from a named profile as `cloudbridge init --stack` stores it), IAM refusals, 409
 * ConditionalRequestConflict on conditional writes and 503 SlowDown answered by `--faults`.
 */
describe("git-remote-cloudbridge against cloudbridge local --stack --faults conflict=0.2,slowdown=0.1", () => {
  let stack: RunningStack;
  let work: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    stack = await startStack(synthCloudAssembly(TWO_AGENTS), ["--faults", "conflict=0.2,slowdown=0.1"]);
    work = await mkdtemp(join(tmpdir(), "cloudbridge-helper-stack-"));
    const [alice, bob] = [await stack.agentCredentials("alice"), await stack.agentCredentials("bob")];
    const profiles = join(work, "credentials");
    await writeFile(
      profiles,
      [
        ["alice", alice],
        ["bob", bob],
        ["alice-wrong-secret", { ...alice, secretAccessKey: `${alice.secretAccessKey.slice(0, -1)}x` }],
      ]
        .map(
          ([name, key]) =>
            `[${name as string}]\naws_access_key_id = ${(key as typeof alice).accessKeyId}\naws_secret_access_key = ${(key as typeof alice).secretAccessKey}\n`,
        )
        .join("\n"),
    );
    env = {
      PATH: `${resolve("bin")}:${process.env.PATH}`,
      HOME: work,
      ...GIT_ENV,
      AWS_ENDPOINT_URL: stack.endpoint,
      AWS_REGION: stack.region,
      AWS_SHARED_CREDENTIALS_FILE: profiles,
      AWS_CONFIG_FILE: join(work, "config"),
      AWS_PROFILE: "alice",
    };
  });
  after(async () => {
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function git(
    cwd: string,
    args: string[],
    profile = "alice",
    extra: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number; stderr: string; stdout: string }> {
    try {
      const { stdout, stderr } = await run("git", args, { cwd, env: { ...env, AWS_PROFILE: profile, ...extra }, timeout: 120_000 });
      return { code: 0, stdout: stdout.trim(), stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout.trim(), stderr: e.stderr };
    }
  }
  async function ok(cwd: string, ...args: string[]): Promise<string> {
    const result = await git(cwd, args);
    assert.equal(result.code, 0, `git ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  }

  it(`${PUSHERS} racing pushers through 409s and 503s: each lands or is rejected as git would, all land after a pull, a clone holds every commit`, async () => {
    const url = `cloudbridge::s3://${stack.outputs.BucketName}/notes`;
    const origin = join(work, "origin");
    await mkdir(origin);
    await ok(origin, "init", "-q", "-b", "main");
    await writeFile(join(origin, "README"), "base\n");
    await ok(origin, "add", "README");
    await ok(origin, "commit", "-q", "-m", "base");
    await ok(origin, "push", "-q", url, "main");
    const heads = await Promise.all(
      Array.from({ length: PUSHERS }, async (_, i) => {
        const dir = join(work, `pusher-${i}`);
        await ok(work, "clone", "-q", url, dir);
        await writeFile(join(dir, `from-${i}.txt`), `pusher ${i}\n`);
        await ok(dir, "add", ".");
        await ok(dir, "commit", "-q", "-m", `pusher ${i}`);
        return { dir, oid: await ok(dir, "rev-parse", "HEAD") };
      }),
    );
    await Promise.all(
      heads.map(async ({ dir }) => {
        for (let attempt = 0; ; attempt++) {
          const pushed = await git(dir, ["push", "-q", "origin", "main"]);
          if (pushed.code === 0) return;
          assert.match(pushed.stderr, /fetch first|non-fast-forward|rejected/, `a push fails only as git would: ${pushed.stderr}`);
          assert.ok(attempt < 20, "lands within 20 pulls");
          await ok(dir, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main");
        }
      }),
    );
    const injected = stack.stderr();
    assert.match(injected, /injected 409 ConditionalRequestConflict/, "conflicts were injected");
    assert.match(injected, /injected 503 SlowDown/, "slow-downs were injected");
    const reader = join(work, "reader");
    await ok(work, "clone", "-q", url, reader);
    for (const { oid } of heads) await ok(reader, "merge-base", "--is-ancestor", oid, "HEAD");
    await ok(reader, "fsck", "--strict", "--no-dangling");
  });

  it("a pack over the single-PUT limit goes up in parts (through the SDK's client, with the same key) and clones back whole", async () => {
    const url = `cloudbridge::s3://${stack.outputs.BucketName}/notes`;
    const dir = join(work, "large");
    await ok(work, "clone", "-q", url, dir);
    const content = randomBytes(SINGLE_PUT_LIMIT + 1024 * 1024);
    await writeFile(join(dir, "large.bin"), content);
    await ok(dir, "add", "large.bin");
    await ok(dir, "commit", "-q", "-m", "large");
    for (let attempt = 0; ; attempt++) {
      const pushed = await git(dir, ["push", "-q", "origin", "main"]);
      if (pushed.code === 0) break;
      assert.ok(attempt < 5, pushed.stderr);
      await ok(dir, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main");
    }
    const reader = join(work, "large-reader");
    await ok(work, "clone", "-q", url, reader);
    assert.deepEqual(await readFile(join(reader, "large.bin")), content);
  });

  it("a wrong secret is refused by the signature check, and another agent's key by IAM; neither pushes anything", async () => {
    const url = `cloudbridge::s3://${stack.outputs.BucketName}/notes`;
    const dir = join(work, "refused");
    await ok(work, "clone", "-q", url, dir);
    await writeFile(join(dir, "refused.txt"), "no\n");
    await ok(dir, "add", ".");
    await ok(dir, "commit", "-q", "-m", "refused");
    const wrong = await git(dir, ["push", "-q", "origin", "main"], "alice-wrong-secret");
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /signature/i, wrong.stderr);
    assert.match(
      wrong.stderr,
      /does not accept these AWS credentials .*AWS_PROFILE, or the profile the repository names/,
      "says what to check",
    );
    const other = await git(dir, ["push", "-q", "origin", "main"], "bob");
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /denied/i, other.stderr);
    const reader = join(work, "refused-reader");
    await ok(work, "clone", "-q", url, reader);
    assert.equal((await git(reader, ["cat-file", "-e", `HEAD:refused.txt`])).code === 0, false, "nothing of the refused pushes landed");
  });

  it("a plain git push in a folder signs with the folder's cloudbridge.profile at its cloudbridge.endpoint, whatever the environment says; a profile with no key is refused, saying what to do", async () => {
    const url = `cloudbridge::s3://${stack.outputs.BucketName}/notes`;
    const dir = join(work, "folder-settings");
    await ok(work, "clone", "-q", url, dir);
    await ok(dir, "checkout", "-q", "-B", "main"); // an empty repository when this test runs alone
    await ok(dir, "config", "cloudbridge.profile", "alice");
    await ok(dir, "config", "cloudbridge.endpoint", stack.endpoint);
    await writeFile(join(dir, "folder.txt"), "the folder's own key\n");
    await ok(dir, "add", ".");
    await ok(dir, "commit", "-q", "-m", "folder settings");
    // bob's key (refused by IAM on alice's repository) and an endpoint where nothing listens, in the environment.
    const elsewhere = { AWS_ENDPOINT_URL: "http://127.0.0.1:9" };
    for (let attempt = 0; ; attempt++) {
      const pushed = await git(dir, ["push", "-q", "origin", "main"], "bob", elsewhere);
      if (pushed.code === 0) break;
      assert.ok(attempt < 5 && /fetch first|non-fast-forward/.test(pushed.stderr), pushed.stderr);
      assert.equal((await git(dir, ["pull", "-q", "--no-rebase", "--no-edit", "origin", "main"], "bob", elsewhere)).code, 0);
    }
    const reader = join(work, "folder-settings-reader");
    await ok(work, "clone", "-q", url, reader);
    assert.equal(await readFile(join(reader, "folder.txt"), "utf8"), "the folder's own key\n");

    await ok(dir, "config", "cloudbridge.profile", "carol");
    await writeFile(join(dir, "carol.txt"), "no key\n");
    await ok(dir, "add", ".");
    await ok(dir, "commit", "-q", "-m", "no key");
    const refused = await git(dir, ["push", "-q", "origin", "main"], "alice");
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /The profile carol \(cloudbridge\.profile[^)]*\) has no access key in \S*credentials/, refused.stderr);
    assert.match(refused.stderr, /git config cloudbridge\.profile NAME/, refused.stderr);
    const fetched = await git(dir, ["fetch", "origin"], "alice");
    assert.notEqual(fetched.code, 0, "a fetch is refused the same way");
    assert.match(fetched.stderr, /The profile carol/, fetched.stderr);
  });

  it("a clock 20 minutes off: the local cloud answers RequestTimeTooSkewed as S3 does, and the light client corrects by its Date and retries once, as the SDK does", async () => {
    const bucket = stack.outputs.BucketName!;
    const key = await stack.agentCredentials("alice");
    const endpoint = new URL(stack.endpoint);
    const object = "repos/notes.git/clock-check";
    const settings = { region: stack.region, endpoint, pathStyle: true, configuredEndpoint: true, key, maxAttempts: 6 };
    const onTime = new LightS3Client(settings);
    await onTime.putObject({ Bucket: bucket, Key: object, Body: "clock\n" });
    onTime.destroy();

    // S3's answer: 403, the request's and the server's times, the 15 minutes allowed, a Date to correct by.
    const path = `/${bucket}/${object}`;
    const late = new Date(Date.now() - 20 * 60_000);
    const headers = signRequest(
      { method: "GET", host: endpoint.host, path, query: [], headers: {}, payloadHash: EMPTY_PAYLOAD_HASH },
      key,
      { region: stack.region, service: "s3" },
      late,
    );
    const answer = await fetch(new URL(path, endpoint), { headers });
    const body = await answer.text();
    assert.equal(answer.status, 403, body);
    assert.match(
      body,
      /<Code>RequestTimeTooSkewed<\/Code><Message>The difference between the request time and the current time is too large\.<\/Message>/,
    );
    assert.match(
      body,
      /<RequestTime>\d{8}T\d{6}Z<\/RequestTime><ServerTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/ServerTime><MaxAllowedSkewMilliseconds>900000<\/MaxAllowedSkewMilliseconds>/,
    );
    assert.ok(Math.abs(Date.parse(answer.headers.get("date")!) - Date.now()) < 60_000, "the answer's Date is the server's time");

    // This process's clock moved (Date.now, which the SDK and the light client both sign by), each way; the
    // answers counted on the way (a proxy records each status before the client reads it).
    const proxy = await startCountingProxy(stack.endpoint);
    const realNow = Date.now;
    try {
      for (const offset of [-20 * 60_000, 20 * 60_000]) {
        const clock = `clock ${offset / 60_000} min`;
        Date.now = () => realNow() + offset;
        try {
          // The SDK corrects itself from the local cloud's answer, as from AWS's: what the light client must match.
          proxy.reset();
          // The agent's SDK client (6 attempts: a 503 SlowDown injected now and then is retried).
          const sdk = createS3Client({ region: stack.region, endpoint: proxy.endpoint, credentials: key });
          assert.equal((await sdk.send(new HeadObjectCommand({ Bucket: bucket, Key: object }))).ContentLength, 6);
          sdk.destroy();
          assert.equal(proxy.s3Statuses.filter((status) => status === 403).length, 1, `the SDK: one refusal (${clock})`);

          proxy.reset();
          const skewed = new LightS3Client({ ...settings, endpoint: new URL(proxy.endpoint) });
          try {
            // A HEAD first: its 403 has no body to name the error, only the Date to correct by.
            assert.equal((await skewed.headObject({ Bucket: bucket, Key: object })).ContentLength, 6);
            const listed = await skewed.listObjectsV2({ Bucket: bucket, Prefix: "repos/notes.git/" });
            assert.ok(listed.Contents?.some((entry) => entry.Key === object));
            await skewed.putObject({ Bucket: bucket, Key: object, Body: "clock\n" });
          } finally {
            skewed.destroy();
          }
          assert.equal(proxy.s3Statuses[0], 403, `the light client's first request is refused (${clock}): ${proxy.s3Statuses}`);
          assert.equal(
            proxy.s3Statuses.filter((status) => status === 403).length,
            1,
            `then every request is signed at the server's time (${clock}): ${proxy.s3Statuses}`,
          );
        } finally {
          Date.now = realNow;
        }
      }
    } finally {
      await proxy.stop();
    }
  });
});
