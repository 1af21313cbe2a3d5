/**
 * An agent process for the annex tests, run as a child so its memory can be measured and it can be killed
 * mid-transfer. Settings come from the repository's git config and the standard AWS environment, as for
 * the CLI. Prints one JSON line: what it did and its peak RSS (`peakRssKiB()`, KiB).
 *
 *   annex-worker.ts add <work tree> <path>   hash into the store, upload, commit the pointer, push main + git-annex
 *   annex-worker.ts upload <work tree> <key> upload a key that is in the local store
 *   annex-worker.ts get <work tree> <key>    download a key
 *
 * ANNEX_WORKER_DELAY_MS slows every part upload and ranged GET, so a test can kill it mid-transfer.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { join, relative } from "node:path";
import type { MultipartStore, ObjectStore } from "../../objectstore/object-store.ts";
import type { S3ObjectStore } from "../../objectstore/s3-object-store.ts";
import { openAnnexContext } from "../../agent/cli/annex-context.ts";
import { formatPointer } from "../../annex/index.ts";
import { gitText } from "../../localgit/index.ts";
import { push } from "../../gitstore/index.ts";

const [command, workTree, arg] = process.argv.slice(2) as [string, string, string];
const delay = Number(process.env.ANNEX_WORKER_DELAY_MS ?? 0);

function slow(store: S3ObjectStore): ObjectStore & MultipartStore {
  if (!delay) return store;
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== "uploadPart" && name !== "getStream") return typeof value === "function" ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        await sleep(delay);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const context = await openAnnexContext({ cwd: workTree, wrapStore: slow });
const git = (args: string[], options: { input?: string; cwd?: string } = {}) => gitText(args, { gitDir: context.gitDir, ...options });
const { annex } = context;
let output: Record<string, unknown>;
if (command === "add") {
  const file = join(workTree, arg);
  const key = await annex.add(file);
  await annex.upload([{ key, fileName: arg }]);
  const blob = await git(["hash-object", "-w", "--stdin"], { input: formatPointer(key) });
  await git(["update-index", "--add", "--cacheinfo", `100644,${blob},${relative(workTree, file)}`], { cwd: workTree });
  // Plumbing, as the agent commits: `git commit` would re-hash the 200 MiB work-tree file to refresh the index.
  const tree = await git(["write-tree"]);
  const parent = await gitText(["rev-parse", "--verify", "--quiet", "HEAD"], { gitDir: context.gitDir, allowFailure: true });
  const head = await git(["commit-tree", tree, ...(parent ? ["-p", parent] : []), "-m", `add ${arg}`]);
  await git(["update-ref", "HEAD", head]);
  const store = annex.cloud.store;
  await push({
    store,
    layout: annex.cloud.layout,
    repo: annex.cloud.repo,
    gitDir: context.gitDir,
    agent: annex.uuid,
    updates: [{ ref: "refs/heads/main", oid: head }],
  });
  output = { key };
} else if (command === "upload") {
  output = { uploaded: (await annex.upload([{ key: arg }], { partSize: 5 * 1024 * 1024, concurrency: 2 })).get(arg) };
} else if (command === "get") {
  output = { downloaded: (await annex.get([{ key: arg }], { partSize: 5 * 1024 * 1024, concurrency: 2 })).get(arg) };
} else {
  throw new Error(`unknown command ${command}`);
}
process.stdout.write(`${JSON.stringify(output)}\n`);
