/**
 * Hashing many small files into blobs, as a scan does: `hashObjectFiles` (paths as arguments, batched,
 * NUL-safe) against the `hash-object --stdin-paths` it replaced (paths as lines: a name with a newline
 * shifts every answer after it), on the same 10,000 files of 1 KiB, three runs each.
 * Run: `node --disable-warning=ExperimentalWarning bench/git-hash-paths.ts` (BENCH_FILES to scale).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashObjectFiles, runGit } from "../localgit/index.ts";

const FILES = Number(process.env.BENCH_FILES ?? 10_000);
const root = await mkdtemp(join(tmpdir(), "cb-bench-hash-"));
try {
  const gitDir = join(root, "repo.git");
  execFileSync("git", ["init", "-q", "--bare", gitDir]);
  const paths: string[] = [];
  for (let d = 0; d < 100; d += 1) {
    await mkdir(join(root, "files", `dir-${d}`), { recursive: true });
    for (let f = 0; f < FILES / 100; f += 1) {
      const path = join(root, "files", `dir-${d}`, `file-${f}.txt`);
      await writeFile(path, randomBytes(512).toString("hex"));
      paths.push(path);
    }
  }
  const timed = async (what: () => Promise<string[]>) => {
    const start = performance.now();
    const oids = await what();
    if (oids.length !== paths.length) throw new Error(`${oids.length} ids for ${paths.length} files`);
    return performance.now() - start;
  };
  const byLines = async () =>
    (await runGit(["hash-object", "-w", "--no-filters", "--stdin-paths"], { gitDir, input: `${paths.join("\n")}\n` })).stdout
      .toString()
      .trim()
      .split("\n");
  const byArguments = () => hashObjectFiles(paths, { gitDir });
  const runs = { "--stdin-paths (lines)": [] as number[], "arguments (hashObjectFiles)": [] as number[] };
  for (let i = 0; i < 3; i++) {
    runs["--stdin-paths (lines)"].push(await timed(byLines));
    runs["arguments (hashObjectFiles)"].push(await timed(byArguments));
  }
  for (const [name, times] of Object.entries(runs)) {
    const sorted = [...times].sort((a, b) => a - b);
    console.log(`${name}: ${FILES} files, median ${Math.round(sorted[1]!)} ms (runs: ${times.map(Math.round).join(", ")} ms)`);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
