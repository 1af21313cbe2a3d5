import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import { cli, cliOk } from "../../helpers/agents.ts";
import { GIT_ENV } from "../../helpers/git.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

const execFileAsync = promisify(execFile);

/** `bad<0xff>.txt`: a name git holds as bytes and that has no UTF-8 spelling. */
const BAD_NAME = Buffer.concat([Buffer.from("bad"), Buffer.from([0xff]), Buffer.from(".txt")]);
/** What a lossy decoder makes of it (U+FFFD): another file to git. */
const LOSSY_NAME = Buffer.from("bad\uFFFD.txt");

/**
 * A file whose name is not valid UTF-8, committed with plain git and pushed through the remote helper.
 * The agent can neither write it under that name nor under a rewritten one (a rewritten name is another
 * file to git, and the shared tree would end up holding both): it is refused, with the same message,
 * both when it comes from the bucket (checkout) and when a person makes such a file in the folder
 * (adoption). Nothing is written, the tree keeps exactly one entry for it, and the refusal is listed.
 */
describe("a name that is not valid UTF-8", () => {
  const bed = useAgentCloud("non-utf8-name");

  it("is refused at checkout and at adoption with the same message; nothing is written and the tree is not duplicated", async () => {
    const env = bed.env;
    const gitEnv = { ...env, ...GIT_ENV, PATH: `${resolve("bin")}:${env.PATH}` };
    const git = async (cwd: string, ...args: string[]) =>
      (await execFileAsync("git", args, { cwd, env: gitEnv, encoding: "buffer", timeout: 60_000 })).stdout;
    const url = "s3://cloudbridge/names";
    const A = bed.path("a");
    const B = bed.path("b");
    const W = bed.path("writer");

    await cliOk(["init", A, "--remote", url, "--listen", "poll"], env);
    await writeFile(join(A, "honest.txt"), "honest\n");
    await cliOk(["sync", A], env);

    // Plain git, through the remote helper.
    await git(bed.path(""), "clone", "-q", `cloudbridge::${url}`, W);
    await writeFile(Buffer.concat([Buffer.from(`${W}/`), BAD_NAME]), "from plain git\n");
    await git(W, "add", "-A");
    await git(W, "commit", "-q", "-m", "a name that is not UTF-8");
    await git(W, "push", "-q", "origin", "main");

    // Checkout: a new machine joins, and A catches up.
    const cloned = await cli(["clone", url, B, "--listen", "poll", "--json"], env);
    assert.equal(cloned.code, 3, `the clone exits with the refused code, as sync does:\n${cloned.stderr}`);
    type Report = { refused: Array<{ path: string; reason: string }>; notUploaded: Array<{ path: string; reason: string }> };
    const atCheckout = JSON.parse(cloned.stdout) as Report;
    assert.equal(atCheckout.refused.length, 1, JSON.stringify(atCheckout.refused));
    assert.match(atCheckout.refused[0]!.reason, /is not valid UTF-8.*rename it/);
    assert.match(atCheckout.refused[0]!.reason, /bad\\xff\.txt/, "the message shows the byte as it is");
    const caughtUp = await cli(["sync", A], env);
    assert.equal(caughtUp.code, 3, "sync exits with the refused code");
    assert.ok(
      caughtUp.stdout.includes(`REFUSED "bad\\udcff.txt" from the bucket: ${atCheckout.refused[0]!.reason}. Nothing was written for it.`),
      caughtUp.stdout,
    );
    for (const dir of [A, B]) {
      const names = (await readdir(dir, { encoding: "buffer" })).map((n) => n.toString("latin1")).sort();
      assert.deepEqual(names, [".git", "honest.txt"], `nothing written in ${dir}: neither the name nor a rewritten one`);
    }
    // Adoption: a person makes a file of that name here (B's tree holds the name, not the file).
    await writeFile(Buffer.concat([Buffer.from(`${B}/`), BAD_NAME]), "made here\n");
    const adopted = await cli(["sync", B, "--json"], env);
    assert.equal(adopted.code, 3);
    const atAdoption = JSON.parse(adopted.stdout) as Report;
    assert.deepEqual(atAdoption.refused, [], "nothing more came from the bucket");
    assert.equal(atAdoption.notUploaded.length, 1, JSON.stringify(atAdoption.notUploaded));
    assert.equal(atAdoption.notUploaded[0]!.path, atCheckout.refused[0]!.path);
    assert.equal(atAdoption.notUploaded[0]!.reason, atCheckout.refused[0]!.reason, "the same message at checkout and at adoption");
    assert.equal(
      (await readFile(Buffer.concat([Buffer.from(`${B}/`), BAD_NAME]))).toString(),
      "made here\n",
      "the person's file is left as it is",
    );
    // The same in A, next to an ordinary edit that does sync.
    await writeFile(Buffer.concat([Buffer.from(`${A}/`), BAD_NAME]), "made in A\n");
    await writeFile(join(A, "honest.txt"), "honest, edited\n");
    const edited = await cli(["sync", A], env);
    assert.equal(edited.code, 3);
    assert.ok(
      edited.stdout.includes(`NOT UPLOADED "bad\\udcff.txt": ${atCheckout.refused[0]!.reason}. It stays on this machine only.`),
      edited.stdout,
    );

    // The shared tree holds the name exactly once, as plain git wrote it, and no rewritten twin.
    await git(W, "pull", "-q", "--ff-only", "origin", "main");
    const tree = (await git(W, "ls-tree", "-z", "--name-only", "HEAD")).toString("latin1").split("\0").filter(Boolean).sort();
    assert.deepEqual(tree, [BAD_NAME.toString("latin1"), "honest.txt"]);
    assert.ok(!tree.includes(LOSSY_NAME.toString("latin1")));
    assert.equal((await git(W, "show", "HEAD:honest.txt")).toString(), "honest, edited\n", "everything else syncs");
  });
});
