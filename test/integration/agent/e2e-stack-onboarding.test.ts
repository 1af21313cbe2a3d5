import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { parseProfile } from "../../../agent/credentials/profile-file.ts";
import { agentEnv, cli, cliOk, startDaemon, type Daemon } from "../../helpers/agents.ts";
import { exists } from "../../helpers/folders.ts";
import { startProsody, type TestProsody } from "../../helpers/prosody.ts";
import { startStack, synthCloudAssembly, type RunningStack } from "../../helpers/stack-cloud.ts";

/**
 * From the deployed stack to syncing machines, as a person does it, against `cloudbridge local --stack`
 * (every request signed and authorized by the stack's IAM policies): agent alice onboarded by command
 * with the administrator's credentials, agent bob by an invite on a machine that never sees them; then
 * daemons with only their own keys, one per machine serving two folders each, carry files through the
 * stack's queues and through XMPP (a real prosody), and keep syncing while both keys are rotated.
 */
const XMPP_PASSWORD = { alice: "alice-xmpp-password", bob: "bob-xmpp-password" };
// A notification's delivery, told apart from the reconcile timer (10 minutes): the figure belongs to the
// latency benchmarks, not to a deadline a loaded machine can miss.
const LATENCY_MS = 10_000;

function config(prosody: TestProsody, keySerial: number) {
  return {
    repos: ["notes", "photos", "scratch"],
    agents: [
      { name: "alice", repos: ["notes", "photos"], keySerial },
      { name: "bob", repos: ["notes", "photos", "scratch"], keySerial },
    ],
    xmpp: {
      service: prosody.service,
      notifier: `notifier@${prosody.domain}`,
      recipients: [`alice@${prosody.domain}`, `bob@${prosody.domain}`],
      maxConcurrency: 0,
    },
  };
}

/** Milliseconds until `path` exists (polled every 20 ms), or a failure after `limitMs` × 5. */
async function arrival(path: string, limitMs: number): Promise<number> {
  const started = Date.now();
  while (!(await exists(path))) {
    if (Date.now() - started > limitMs * 5) assert.fail(`${path} did not arrive within ${limitMs * 5} ms`);
    await sleep(20);
  }
  return Date.now() - started;
}

describe("onboarding machines from the stack, and daemons that run with only their own keys", () => {
  let prosody: TestProsody;
  let cdkOut: string;
  let stack: RunningStack;
  let work: string;
  let admin: Record<string, string>;
  /** Each machine: its own credentials file and state directory, and no administrator credentials. */
  const machine = { a: {} as Record<string, string>, b: {} as Record<string, string> };
  const daemons: Daemon[] = [];
  let folders: { a: string; a2: string; b: string; b2: string };

  before(async () => {
    prosody = await startProsody();
    await prosody.register("alice", XMPP_PASSWORD.alice);
    await prosody.register("bob", XMPP_PASSWORD.bob);
    cdkOut = synthCloudAssembly(config(prosody, 1));
    stack = await startStack(cdkOut);
    // The notifier's account, registered with the password the stack generated (docs/stack.md).
    const secrets = new SecretsManagerClient({
      region: stack.region,
      endpoint: stack.endpoint,
      credentials: { accessKeyId: stack.env.AWS_ACCESS_KEY_ID!, secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY! },
    });
    const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: stack.outputs.XmppSecretArn }));
    secrets.destroy();
    await prosody.register("notifier", (JSON.parse(SecretString!) as { password: string }).password);

    work = await mkdtemp(join(tmpdir(), "cloudbridge-onboard-"));
    folders = { a: join(work, "a", "Notes"), a2: join(work, "a", "Photos"), b: join(work, "b", "Notes"), b2: join(work, "b", "Photos") };
    for (const [name, m] of Object.entries(machine)) {
      await mkdir(join(work, name), { recursive: true });
      Object.assign(
        m,
        agentEnv({}, { AWS_SHARED_CREDENTIALS_FILE: join(work, name, "credentials"), XDG_STATE_HOME: join(work, name, "state") }),
      );
    }
    admin = { ...machine.a, ...stack.env };
    await mkdir(folders.a);
    await writeFile(join(folders.a, "first.txt"), "the first machine's file\n");
  });

  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await stack?.stop();
    await prosody?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const adminKey = () => ({ accessKeyId: stack.env.AWS_ACCESS_KEY_ID!, secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY! });
  const credentialsOf = async (m: Record<string, string>, agent: string) =>
    parseProfile(await readFile(m.AWS_SHARED_CREDENTIALS_FILE!, "utf8"), `cloudbridge-${stack.stackName}-${agent}`);

  it("by hand, on the fresh stack: init with only an agent's key writes the marker and README (its 403 for the missing marker tolerated) and writes nowhere else", async () => {
    const bob = await stack.agentCredentials("bob");
    const env = agentEnv({
      AWS_ENDPOINT_URL: stack.endpoint,
      AWS_REGION: stack.region,
      AWS_ACCESS_KEY_ID: bob.accessKeyId,
      AWS_SECRET_ACCESS_KEY: bob.secretAccessKey,
    });
    const dir = join(work, "by-hand");
    await cliOk(["init", dir, "--remote", `s3://${stack.outputs.BucketName}/scratch`], env);
    assert.match(
      stack.stderr(),
      /denied .*s3:GetObject on .*\/cloudbridge\.json: because no identity-based policy allows the s3:ListBucket/,
    );
    const s3 = new S3Client({ region: stack.region, endpoint: stack.endpoint, forcePathStyle: true, credentials: adminKey() });
    const keys = (await s3.send(new ListObjectsV2Command({ Bucket: stack.outputs.BucketName, Delimiter: "/" }))).Contents?.map(
      (o) => o.Key,
    );
    const marker = await s3.send(new GetObjectCommand({ Bucket: stack.outputs.BucketName, Key: "cloudbridge.json" }));
    const body = JSON.parse(await marker.Body!.transformToString()) as { format: number; conditionalWrites: boolean };
    s3.destroy();
    assert.deepEqual(keys?.sort(), ["README.txt", "cloudbridge.json"]);
    assert.deepEqual([body.format, body.conditionalWrites], [3, true]);
  });

  it("onboards alice by command: the key in its profile (0600), the folder configured from the stack", async () => {
    const env = { ...admin, CLOUDBRIDGE_XMPP_PASSWORD: XMPP_PASSWORD.alice };
    const jid = `alice@${prosody.domain}`;
    await cliOk(["init", folders.a, "--stack", stack.stackName, "--agent", "alice", "--repo", "notes", "--xmpp-jid", jid], env);
    await cliOk(["init", folders.a2, "--stack", stack.stackName, "--agent", "alice", "--repo", "photos", "--xmpp-jid", jid], env);
    const file = machine.a.AWS_SHARED_CREDENTIALS_FILE!;
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await credentialsOf(machine.a, "alice"), await stack.agentCredentials("alice"));
    const config = (await cliOk(["status", folders.a, "--json", "--offline"], machine.a)).stdout;
    assert.match(config, /"remote":\s*"cloudbridge::s3:\/\/cloudbridge-bucketdata/);
    const settings = await readFile(join(folders.a, ".git", "config"), "utf8");
    assert.match(settings, new RegExp(`profile = cloudbridge-${stack.stackName}-alice`));
    assert.match(settings, /region = us-east-1/);
    assert.match(settings, new RegExp(`endpoint = ${stack.endpoint}`));
    assert.match(settings, /queueUrl = .*AgentaliceQueue/i);
    assert.match(settings, new RegExp(`xmppService = ${prosody.service}`));
    assert.equal((await stat(join(folders.a, ".git", "cloudbridge", "xmpp-password"))).mode & 0o777, 0o600);
    assert.doesNotMatch(stack.stderr(), /cloudbridge-probe/);
  });

  it("onboards bob by invite, with no administrator credentials on machine B; an invite works once and not after it expires", async () => {
    const invite = join(work, "bob-notes.invite");
    const made = await cliOk(
      [
        "invite",
        "--stack",
        stack.stackName,
        "--agent",
        "bob",
        "--repo",
        "notes",
        "--out",
        invite,
        "--expires",
        "10m",
        "--xmpp-jid",
        `bob@${prosody.domain}`,
      ],
      { ...admin, CLOUDBRIDGE_XMPP_PASSWORD: XMPP_PASSWORD.bob },
    );
    const bobKey = await stack.agentCredentials("bob");
    assert.equal((await stat(invite)).mode & 0o777, 0o600);
    assert.ok(!made.stdout.includes(bobKey.secretAccessKey) && !made.stderr.includes(bobKey.secretAccessKey), "the key is never printed");
    const copy = join(work, "bob-notes.copy");
    await copyFile(invite, copy);
    // A refused init (the repository exists) does not spend the invite.
    const wrong = await cli(["init", folders.b, "--invite", invite], machine.b);
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, /already exists in the bucket/);
    await cliOk(["clone", "--invite", invite, folders.b], machine.b);
    assert.equal(await exists(invite), false, "the used invite is removed");
    assert.equal(await readFile(join(folders.b, "first.txt"), "utf8"), "the first machine's file\n");
    assert.deepEqual(await credentialsOf(machine.b, "bob"), bobKey);

    const again = await cli(["clone", "--invite", copy, join(work, "b", "Again")], machine.b);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /already used/);
    assert.equal(await exists(join(work, "b", "Again")), false, "a refused invite leaves no folder behind");

    const shortLived = join(work, "bob-photos-short.invite");
    await cliOk(
      ["invite", "--stack", stack.stackName, "--agent", "bob", "--repo", "photos", "--out", shortLived, "--expires", "1s"],
      admin,
    );
    await sleep(1100);
    const late = await cli(["clone", "--invite", shortLived, folders.b2], machine.b);
    assert.equal(late.code, 2, late.stderr);
    assert.match(late.stderr, /expired/);

    const photos = join(work, "bob-photos.invite");
    await cliOk(
      ["invite", "--stack", stack.stackName, "--agent", "bob", "--repo", "photos", "--out", photos, "--xmpp-jid", `bob@${prosody.domain}`],
      { ...admin, CLOUDBRIDGE_XMPP_PASSWORD: XMPP_PASSWORD.bob },
    );
    await cliOk(["clone", "--invite", photos, folders.b2], machine.b);
  });

  it("daemons with only their own keys: one per machine for two folders, files cross through the stack's queues, not by the reconcile timer", async () => {
    // Both keys are checked every second here, so the rotation below is picked up while the test waits.
    await setKeyCheck(Object.values(folders), "1");
    const flags = ["--listen", "sqs", "--debounce", "100"];
    daemons.push(
      await startDaemons([folders.a, folders.a2], machine.a, flags),
      await startDaemons([folders.b, folders.b2], machine.b, flags),
    );

    for (const [from, to, name] of [
      [folders.a, folders.b, "a-to-b.txt"],
      [folders.a2, folders.b2, "photo-a-to-b.txt"],
      [folders.b, folders.a, "b-to-a.txt"],
      [folders.b2, folders.a2, "photo-b-to-a.txt"],
    ] as const) {
      await writeFile(join(from, name), `${name}\n`);
      const ms = await arrival(join(to, name), LATENCY_MS);
      assert.ok(ms < LATENCY_MS, `${name} took ${ms} ms through the stack's queue`);
    }
    const status = JSON.parse((await cliOk(["status", folders.a, "--json", "--offline"], machine.a)).stdout) as {
      daemon: { listener: { configured: string; active: string; state: string } };
    };
    assert.deepEqual(
      [status.daemon.listener.configured, status.daemon.listener.active, status.daemon.listener.state],
      ["sqs", "sqs", "listening"],
    );
    // Nothing was created at run time, and nothing the agents' keys may not do was tried.
    assert.doesNotMatch(stack.stderr(), /CreateQueue|sns:Subscribe|SetQueueAttributes/);
    for (const daemon of daemons) assert.deepEqual(failures(daemon), []);
  });

  it("rotating both keys (keySerial 2, then 3) while the daemons sync: no failed round, the profiles follow the secrets", async () => {
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        await writeFile(join(folders.a, `during-rotation-${n++}.txt`), `${n}\n`);
        await sleep(250);
      }
    })();
    try {
      for (const serial of [2, 3]) {
        synthCloudAssembly(config(prosody, serial), cdkOut);
        const update = await stack.update();
        assert.match(update, serial === 2 ? /AccessKeyEven.*added/ : /AccessKey[^E]*replaced/, update);
        for (const [m, agent] of [
          [machine.a, "alice"],
          [machine.b, "bob"],
        ] as const) {
          const current = await stack.agentCredentials(agent);
          const started = Date.now();
          while ((await credentialsOf(m, agent))?.accessKeyId !== current.accessKeyId) {
            if (Date.now() - started > 15_000) assert.fail(`${agent}'s daemon did not pick up key serial ${serial}`);
            await sleep(100);
          }
        }
      }
    } finally {
      writing = false;
      await writer;
    }
    // Key 1 is deleted now; the daemons sign with key 3 (or 2, still active) and go on syncing.
    await writeFile(join(folders.a, "after-rotation.txt"), "after\n");
    await arrival(join(folders.b, "after-rotation.txt"), LATENCY_MS);
    for (let i = 0; i < n; i++) await arrival(join(folders.b, `during-rotation-${i}.txt`), LATENCY_MS);
    for (const daemon of daemons) {
      assert.deepEqual(failures(daemon), []);
      assert.ok(
        daemon.events.some((e) => e.event === "key.rotated"),
        `${daemon.dir}: no key.rotated event`,
      );
    }
  });

  it("through XMPP: the same daemons' folders, listening by XMPP (prosody), carry a file A → B, not by the reconcile timer", async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop()));
    const flags = ["--listen", "xmpp", "--debounce", "100"];
    daemons.push(
      await startDaemons([folders.a, folders.a2], machine.a, flags),
      await startDaemons([folders.b, folders.b2], machine.b, flags),
    );
    await writeFile(join(folders.a, "by-xmpp.txt"), "xmpp\n");
    const ms = await arrival(join(folders.b, "by-xmpp.txt"), LATENCY_MS);
    assert.ok(ms < LATENCY_MS, `by XMPP a file took ${ms} ms`);
    const status = JSON.parse((await cliOk(["status", folders.b, "--json", "--offline"], machine.b)).stdout) as {
      daemon: { listener: { active: string; state: string } };
    };
    assert.deepEqual([status.daemon.listener.active, status.daemon.listener.state], ["xmpp", "listening"]);
    for (const daemon of daemons) assert.deepEqual(failures(daemon), []);
  });
});

/** A daemon serving several folders; resolves once every folder is ready. */
async function startDaemons(dirs: string[], env: Record<string, string>, flags: string[]): Promise<Daemon> {
  const daemon = await startDaemon(dirs[0]!, env, [...dirs.slice(1), ...flags], { ready: false });
  const started = Date.now();
  while (daemon.events.filter((e) => e.event === "daemon.ready").length < dirs.length) {
    if (Date.now() - started > 60_000) assert.fail(`daemon for ${dirs.join(", ")} not ready: ${JSON.stringify(daemon.events)}`);
    if (daemon.process.exitCode !== null) assert.fail(`daemon exited: ${JSON.stringify(daemon.events)}`);
    await sleep(50);
  }
  return daemon;
}

/** Failed rounds and listeners that did not start. */
function failures(daemon: Daemon): unknown[] {
  return daemon.events.filter((e) => e.event === "sync.failed" || e.event === "listen.failed");
}

async function setKeyCheck(dirs: string[], seconds: string): Promise<void> {
  const { execFile } = await import("node:child_process");
  const { promisify } = await import("node:util");
  for (const dir of dirs) await promisify(execFile)("git", ["-C", dir, "config", "cloudbridge.keyCheckInterval", seconds]);
}
