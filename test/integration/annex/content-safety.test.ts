import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { cli, cliOk, waitUntil } from "../../helpers/agents.ts";
import { git } from "../../helpers/git.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

/**
 * Annexed content against what a person and the bucket do meanwhile: a save made while the daemon copies a
 * downloaded file into place, and a cloud copy replaced by wrong bytes of the right size before a drop.
 */
describe("annexed content is never lost to a race or to a wrong cloud copy", () => {
  const bed = useAgentCloud("annex-safety");

  const keyOf = async (dir: string, path: string) => (await git(dir, "show", `HEAD:${path}`)).replace("/annex/objects/", "").trim();
  const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

  /** A first machine A of `repo` with a 2 MiB annexed file synced, whose copy in the cloud someone then replaced: same size, other bytes. */
  async function cloudCopyReplaced(repo: string): Promise<{ url: string; A: string; content: Buffer; key: string }> {
    const url = `s3://cloudbridge/${repo}`;
    const A = bed.path(`${repo}/a`);
    await cliOk(["init", A, "--remote", url], bed.env);
    const content = randomBytes(2 * 1024 * 1024);
    await writeFile(join(A, "thesis.pdf"), content);
    await cliOk(["sync", A], bed.env);
    const key = await keyOf(A, "thesis.pdf");
    await bed.t.s3.send(
      new PutObjectCommand({ Bucket: bed.t.cloud.bucket, Key: `annex/${repo}/${key}`, Body: randomBytes(content.length) }),
    );
    return { url, A, content, key };
  }

  it("keeps a person's save made while the daemon downloads content and puts it in place", async () => {
    const url = "s3://cloudbridge/placing";
    const A = bed.path("placing/a");
    const B = bed.path("placing/b");
    await cliOk(["init", A, "--remote", url, "--listen", "poll", "--poll-interval", "1"], bed.env);
    await cliOk(["clone", url, B, "--listen", "poll", "--poll-interval", "1"], bed.env);
    await bed.daemon(B, ["--debounce", "50"]);
    await writeFile(join(A, "film.bin"), randomBytes(96 * 1024 * 1024));
    await cliOk(["sync", A], bed.env);

    // While the agent brings the content in (the download filling the store's temporary, or a copy from the
    // store filling a temporary beside the file), the person saves their own version.
    const mine = "the person's own version, saved while the download was being put in place\n";
    const annexTmp = join(B, ".git", "annex", "tmp");
    const filling = async (dir: string, skip: (name: string) => boolean) => {
      const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => !skip(n));
      const sizes = await Promise.all(names.map(async (n) => (await stat(join(dir, n)).catch(() => undefined))?.size ?? 0));
      return sizes.some((size) => size >= 64 * 1024);
    };
    await waitUntil(
      async () => {
        // Not the pointer file written first: that window is the checkout's, covered elsewhere.
        const beside = await filling(B, (n) => n === "film.bin" || n === ".git");
        if (!beside && !(await filling(annexTmp, () => false))) return false;
        await writeFile(join(B, "film.bin"), mine);
        return true;
      },
      "the agent bringing film.bin's content in",
      120_000,
      1,
    );
    // It is in history: the other machine gets it.
    await waitUntil(
      async () => {
        await cliOk(["sync", A], bed.env);
        return (await readFile(join(A, "film.bin"))).equals(Buffer.from(mine));
      },
      "the person's version in A",
      60_000,
      500,
    );
    const held = await readFile(join(B, "film.bin"));
    assert.ok(held.equals(Buffer.from(mine)), `the person's save is what the folder holds (it holds ${held.length} bytes)`);
    assert.equal((await readdir(B)).filter((n) => n.startsWith(".cloudbridge-tmp-")).length, 0, "no temporary left behind");
  });

  it("refuses to drop the only good copy when the cloud's copy was replaced by wrong bytes of the same size", async () => {
    // Someone with write access to the bucket replaces the object: same size, other bytes.
    const { A, content, key } = await cloudCopyReplaced("dropping");

    const drop = await cli(["drop", "thesis.pdf"], bed.env, { cwd: A });
    assert.equal(drop.code, 1, `the drop was refused:\n${drop.stdout}${drop.stderr}`);
    assert.match(drop.stderr, /Refusing to drop this repository's copy/);
    assert.equal(sha256(await readFile(join(A, "thesis.pdf"))), sha256(content), "the file still holds its content");
    const got = await cli(["get", "thesis.pdf"], bed.env, { cwd: A });
    assert.equal(got.code, 0, `the content is still here:\n${got.stderr}`);
    // With the good copy put back, the drop goes through.
    await bed.t.s3.send(new PutObjectCommand({ Bucket: bed.t.cloud.bucket, Key: `annex/dropping/${key}`, Body: content }));
    const again = await cli(["drop", "thesis.pdf"], bed.env, { cwd: A });
    assert.equal(again.code, 0, again.stderr);
  });

  it("a cloud copy replaced by wrong bytes is put right by what the refusal tells the person to do, on a machine with a good copy", async () => {
    const { url, A, content } = await cloudCopyReplaced("repairing");
    const B = bed.path("repairing/b");
    await cliOk(["clone", url, B, "--wanted", "nothing"], bed.env);
    const refused = await cli(["get", "thesis.pdf"], bed.env, { cwd: B });
    assert.equal(refused.code, 1);
    // The refusal names the commands that put it right, and they do, run as it says.
    const said = refused.stdout + refused.stderr;
    const steps = [...said.matchAll(/`cloudbridge ((?:drop|copy) [^`]+) FILE`/g)].map((m) => m[1]!.split(" "));
    assert.deepEqual(
      steps,
      [
        ["drop", "--from", "cloud", "--force"],
        ["copy", "--to", "cloud"],
      ],
      said,
    );
    for (const step of steps) await cliOk([...step, "thesis.pdf"], bed.env, { cwd: A });
    await cliOk(["fsck", "--from", "cloud"], bed.env, { cwd: A });
    await cliOk(["get", "thesis.pdf"], bed.env, { cwd: B });
    assert.equal(sha256(await readFile(join(B, "thesis.pdf"))), sha256(content));
  });
});
