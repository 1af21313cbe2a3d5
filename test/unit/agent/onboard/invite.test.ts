import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Onboarding } from "../../../../agent/onboard/from-stack.ts";
import { onboardingOf, readInvite, writeInvite } from "../../../../agent/onboard/invite.ts";

const ONBOARDING: Onboarding = {
  stack: "cloudbridge",
  agent: "bob",
  repo: "notes",
  bucket: "my-bucket",
  prefix: "team/",
  region: "eu-west-1",
  queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
  keySecret: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf",
  key: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "secret/value" },
};

describe("invites", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "cloudbridge-invite-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  it("round-trips, with mode 0600, a fresh agent id and the expiry; never over an existing file", async () => {
    const path = join(dir, "a.invite");
    const invite = await writeInvite(path, ONBOARDING, { expiresInMs: 60_000 });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.match(invite.id, /^[0-9a-f-]{36}$/);
    const read = await readInvite(path);
    assert.deepEqual(onboardingOf(read), ONBOARDING);
    assert.equal(read.id, invite.id);
    await assert.rejects(writeInvite(path, ONBOARDING, { expiresInMs: 60_000 }), /EEXIST/);
  });

  it("refuses an expired invite, and a damaged one, saying what to do", async () => {
    const path = join(dir, "old.invite");
    await writeInvite(path, ONBOARDING, { expiresInMs: 1000, now: new Date(Date.now() - 5000) });
    await assert.rejects(readInvite(path), { code: "invite-expired", message: /expired .* ask the administrator for a new one/ });
    const damaged = join(dir, "damaged.invite");
    const text = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    await writeFile(damaged, JSON.stringify({ ...text, repo: "../etc", expiresAt: new Date(Date.now() + 60_000).toISOString() }));
    await assert.rejects(readInvite(damaged), { code: "invalid-invite", message: /repo is not a repository name/ });
    await writeFile(damaged, "{");
    await assert.rejects(readInvite(damaged), { code: "invalid-invite" });
  });
});
