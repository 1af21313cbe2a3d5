/**
 * Each side of a large file's transfer alone, this checkout against another, taking turns in one run: the
 * upload (`uploadKey`, A's side) into this checkout's local cloud and into the baseline's (what differs is
 * the cloud), and the download (`downloadKey` with the spare copy, B's side) by this checkout's code and by
 * the baseline's, from each cloud. No daemons, git or notifications: what bench/large-timeline.ts shows
 * end to end, this shows per side with less noise. BENCH_BASELINE=<another checkout with its
 * node_modules> (required), BENCH_LARGE_MIB (default 100), BENCH_LARGE_ROUNDS (default 6); medians.
 *
 * Run: `flock /tmp/cloudbridge-bench.lock env BENCH_BASELINE=<checkout> node --disable-warning=ExperimentalWarning bench/large-transfer-sides.ts`
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStore } from "../annex/content/local-store.ts";
import { downloadKey } from "../annex/transfer/download.ts";
import { uploadKey } from "../annex/transfer/upload.ts";
import type { CloudContent } from "../annex/transfer/transfer-settings.ts";
import { BucketLayout } from "../protocol/index.ts";
import { benchCloudStore, percentile, startCloudProcess, type BenchCloud } from "./agent-common.ts";

const BASELINE = process.env.BENCH_BASELINE;
if (!BASELINE) throw new Error("BENCH_BASELINE=<another checkout of cloudbridge> is required");
const MIB = Number(process.env.BENCH_LARGE_MIB ?? 100);
const ROUNDS = Number(process.env.BENCH_LARGE_ROUNDS ?? 6);

const theirs = (await import(join(BASELINE, "annex", "transfer", "download.ts"))) as { downloadKey: typeof downloadKey };
const downloaders = { "this checkout": downloadKey, baseline: theirs.downloadKey };
const clouds: Record<"this checkout" | "baseline", BenchCloud> = {
  "this checkout": await startCloudProcess(),
  baseline: await startCloudProcess([], {}, join(BASELINE, "agent", "cli", "main.ts")),
};
const root = await mkdtemp(join(tmpdir(), "cb-bench-sides-"));
const times = new Map<string, number[]>();
const note = (what: string, ms: number) => times.set(what, [...(times.get(what) ?? []), ms]);
try {
  const source = new LocalStore(join(root, "a"));
  await writeFile(join(root, "large.bin"), randomBytes(MIB * 1024 * 1024));
  const key = await source.ingest(join(root, "large.bin"));
  const contentOf = (cloud: BenchCloud): CloudContent => ({
    store: benchCloudStore(cloud),
    layout: new BucketLayout(),
    repo: "sides",
  });
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? (["this checkout", "baseline"] as const) : (["baseline", "this checkout"] as const);
    for (const side of order) {
      const cloud = contentOf(clouds[side]);
      await cloud.store.delete(cloud.layout.annexObject(cloud.repo, key)).catch(() => {});
      let started = performance.now();
      await uploadKey(source, cloud, key);
      note(`upload into ${side === "baseline" ? "the baseline's" : "this checkout's"} cloud`, performance.now() - started);
      for (const code of order) {
        const store = new LocalStore(join(root, `b-${code}`));
        started = performance.now();
        await downloaders[code](store, cloud, key, { spare: true });
        note(`download by ${code === "baseline" ? "the baseline's" : "this checkout's"} code`, performance.now() - started);
        await store.remove(key);
        await store.dropSpare(key);
      }
    }
  }
} finally {
  await clouds["this checkout"].stop();
  await clouds.baseline.stop();
  await rm(root, { recursive: true, force: true });
}
const median = (what: string) => percentile(times.get(what)!, 50);
console.log(`${MIB} MiB, medians of ${ROUNDS} rounds (downloads: from both clouds), ms:`);
for (const [what, all] of times) console.log(`  ${what}: ${Math.round(median(what))} (${all.map(Math.round).join(", ")})`);
console.log(
  `this checkout / baseline: upload ${(median("upload into this checkout's cloud") / median("upload into the baseline's cloud")).toFixed(2)}, ` +
    `download ${(median("download by this checkout's code") / median("download by the baseline's code")).toFixed(2)}`,
);
