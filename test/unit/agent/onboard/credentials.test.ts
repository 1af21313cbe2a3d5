import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isAuthFailure, parseKey } from "../../../../agent/credentials/agent-key.ts";
import { parseProfile, removeProfile, writeProfileKey } from "../../../../agent/credentials/profile-file.ts";
import { profileCredentials } from "../../../../objectstore/index.ts";

describe("an agent's key as a named profile in the shared credentials file", () => {
  let dir: string;
  let file: string;
  const readProfileKey = async (profile: string, path: string) => parseProfile(await readFile(path, "utf8"), profile);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cloudbridge-credentials-"));
    file = join(dir, "aws", "credentials");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("writes the profile with mode 0600 and keeps every other profile and comment as it was", async () => {
    await writeProfileKey("cloudbridge-s-a", { accessKeyId: "AKIAFIRST", secretAccessKey: "first/secret" }, file);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const others = "# mine\n[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default\nregion=eu-west-1\n";
    await writeFile(file, `${others}\n${await readFile(file, "utf8")}`);
    await writeProfileKey("cloudbridge-s-a", { accessKeyId: "AKIASECOND", secretAccessKey: "second" }, file);
    const text = await readFile(file, "utf8");
    assert.ok(text.startsWith(others), text);
    assert.equal(text.match(/\[cloudbridge-s-a\]/g)?.length, 1);
    assert.deepEqual(await readProfileKey("cloudbridge-s-a", file), { accessKeyId: "AKIASECOND", secretAccessKey: "second" });
    assert.deepEqual(await readProfileKey("default", file), { accessKeyId: "AKIADEFAULT", secretAccessKey: "default" });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    await removeProfile("cloudbridge-s-a", file);
    assert.equal(await readProfileKey("cloudbridge-s-a", file), undefined);
    assert.ok((await readFile(file, "utf8")).startsWith(others));
  });

  it("refuses a profile name or key that would break the file", async () => {
    await assert.rejects(writeProfileKey("a]\n[b", { accessKeyId: "A", secretAccessKey: "B" }, file));
    await assert.rejects(writeProfileKey("p", { accessKeyId: "A\n[x]", secretAccessKey: "B" }, file));
  });

  it("signs every request with the profile as the file holds it now (a rotated key is used without a restart)", async () => {
    const previous = process.env.AWS_SHARED_CREDENTIALS_FILE;
    process.env.AWS_SHARED_CREDENTIALS_FILE = file;
    try {
      await writeProfileKey("rotating", { accessKeyId: "AKIAONE", secretAccessKey: "one" }, file);
      const provider = profileCredentials("rotating");
      const first = await provider();
      assert.equal(first.accessKeyId, "AKIAONE");
      assert.ok(first.expiration.getTime() <= Date.now(), "the SDK must ask again for the next request");
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await writeProfileKey("rotating", { accessKeyId: "AKIATWO", secretAccessKey: "two" }, file);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.equal((await provider()).accessKeyId, "AKIATWO");
      await assert.rejects(
        profileCredentials("absent")(),
        /The profile absent \(cloudbridge\.profile .*\) has no access key in .*credentials: .*cloudbridge init --stack/,
      );
    } finally {
      if (previous === undefined) delete process.env.AWS_SHARED_CREDENTIALS_FILE;
      else process.env.AWS_SHARED_CREDENTIALS_FILE = previous;
    }
  });

  it("reads a secret's key, and tells AWS's refusals of an unknown key from other errors", () => {
    assert.deepEqual(parseKey('{"accessKeyId":"AKIA1","secretAccessKey":"s"}'), { accessKeyId: "AKIA1", secretAccessKey: "s" });
    assert.equal(parseKey('{"accessKeyId":"AKIA1"}'), undefined);
    assert.equal(parseKey("not json"), undefined);
    assert.equal(isAuthFailure(Object.assign(new Error("x"), { name: "InvalidAccessKeyId" })), true);
    assert.equal(isAuthFailure(new Error("wrapped", { cause: Object.assign(new Error("y"), { name: "InvalidClientTokenId" }) })), true);
    assert.equal(isAuthFailure(Object.assign(new Error("x"), { name: "AccessDenied" })), false);
    // Session credentials past their expiry: S3's and SQS's code, and the JSON services' (Secrets Manager).
    assert.equal(isAuthFailure(Object.assign(new Error("The provided token has expired."), { name: "ExpiredToken" })), true);
    assert.equal(isAuthFailure(Object.assign(new Error("x"), { name: "ExpiredTokenException" })), true);
  });
});
