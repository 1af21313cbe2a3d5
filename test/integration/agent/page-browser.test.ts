import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { agentEnv, cliOk, startDaemon, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { launchChromium, testOutputDir } from "../../helpers/browser.ts";
import { startCountingProxy, type CountingProxy } from "../../helpers/counting-proxy.ts";
import { exists } from "../../helpers/folders.ts";
import { tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

/**
 * The daemon's page in a real browser (headless Chromium), two daemons on the local cloud listening by
 * SQS: a conflict shows up on the page as it happens (pushed, no reload) and "Keep this one" resolves it on both machines; a
 * file deleted on A is restored from B's page; a folder paused from the page holds a change until it is
 * resumed; a 50 MiB download's progress moves. Screenshots of each view go to the test output directory.
 * B's daemon talks to the bucket through a counting proxy: with no page open it makes no request at all.
 */
const FLAGS = ["--listen", "sqs", "--debounce", "100", "--reconcile-interval", "600"];
type View = "folders" | "machines" | "transfers" | "changes" | "conflicts" | "versions" | "bucket";

describe("the daemon's page in a browser", () => {
  let cloud: TestCloud;
  let proxy: CountingProxy;
  let scratch: { path: string; remove(): Promise<void> };
  let A: string;
  let B: string;
  let daemonA: Daemon;
  let daemonB: Daemon;
  let browser: Browser;
  let page: Page;
  let shots: string;
  const text = (path: string) => readFile(path, "utf8").catch(() => undefined);
  const pushes = (d: Daemon) => d.events.filter((e) => e.event === "push").length;
  /** Runs `act` on A and waits until A's daemon pushed the result. */
  const onA = async (act: () => Promise<void>) => {
    const before = pushes(daemonA);
    await act();
    await waitUntil(() => pushes(daemonA) > before, "A pushes its change");
  };
  const tab = async (name: View) => {
    await page.locator(`[data-test=tab-${name}]`).click();
  };
  const shoot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const rss = async (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

  before(async () => {
    cloud = await startTestCloud();
    proxy = await startCountingProxy(cloud.cloud.endpoint);
    scratch = await tempDir("page-browser");
    shots = await testOutputDir("page");
    const env = agentEnv(cloud.cloud.env);
    const envB = { ...env, AWS_ENDPOINT_URL: proxy.endpoint };
    A = join(scratch.path, "a");
    B = join(scratch.path, "b");
    await mkdir(A);
    await writeFile(join(A, "gone.txt"), "deleted on A, restored on B\n");
    await writeFile(join(A, "c.txt"), "shared\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/page", "--topic-arn", cloud.cloud.topicArn], env);
    await cliOk(["clone", "s3://cloudbridge/page", B, "--topic-arn", cloud.cloud.topicArn], envB);
    daemonA = await startDaemon(A, env, FLAGS);
    daemonB = await startDaemon(B, envB, FLAGS);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await daemonA?.stop();
    await daemonB?.stop();
    await proxy?.stop();
    await cloud?.stop();
    await scratch?.remove();
  });

  it("costs no bucket request while nobody looks; RSS with the page open and closed", async (t) => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const pid = daemonB.process.pid!;
    proxy.reset();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const closedRss = await rss(pid);
    assert.equal(proxy.counts.s3, 0, `S3 requests with no page open:\n${proxy.s3Requests.join("\n")}`);

    const url = JSON.parse((await cliOk(["open", B, "--json"], agentEnv(cloud.cloud.env))).stdout).url as string;
    page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(url);
    await page.locator("[data-test=folder]").waitFor();
    assert.equal(new URL(page.url()).search, "", "the token left the address bar");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const openRss = await rss(pid);
    const whileOpen = proxy.counts.s3;

    await page.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
    proxy.reset();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const afterRss = await rss(pid);
    assert.equal(proxy.counts.s3, 0, `S3 requests after the page closed:\n${proxy.s3Requests.join("\n")}`);
    t.diagnostic(
      `daemon RSS: ${closedRss.toFixed(1)} MiB before any page, ${openRss.toFixed(1)} MiB with the page open, ${afterRss.toFixed(1)} MiB after it closed; ${whileOpen} S3 request(s) while open (presence records)`,
    );
    page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(url);
    await page.locator("[data-test=folder]").waitFor();
  });

  it("shows a conflict as it happens, and 'Keep this one' makes both folders converge", async (t) => {
    await waitUntil(async () => (await text(join(B, "c.txt"))) === "shared\n", "B has c.txt");
    await cliOk(["pause", B], agentEnv(cloud.cloud.env));
    await page.locator("[data-test=state]", { hasText: "paused" }).waitFor();
    await onA(() => writeFile(join(A, "c.txt"), "from a\n"));
    await writeFile(join(B, "c.txt"), "from b\n");
    await tab("conflicts");
    await page.locator("[data-test=no-conflicts]").waitFor();
    await cliOk(["resume", B], agentEnv(cloud.cloud.env));
    const variant = await waitUntil(async () => (await readdir(B)).find((name) => name.startsWith("c.variant-")), "B keeps both versions");
    const appeared = Date.now();
    await page.locator("[data-test=conflict]").waitFor({ timeout: 10_000 });
    t.diagnostic(`the conflict was on the page ${Date.now() - appeared} ms after the variant was written`);
    await shoot("conflicts");
    await page.locator(`[data-test=side][data-path="${variant}"] [data-test=keep-this]`).click();
    for (const dir of [A, B]) {
      await waitUntil(
        async () => (await text(join(dir, "c.txt"))) === "from b\n" && !(await readdir(dir)).some((n) => n.includes(".variant-")),
        `${dir} converges on B's version, no variant left`,
      );
    }
    await page.locator("[data-test=no-conflicts]").waitFor();
  });

  it("restores a file deleted on A from B's page", async () => {
    await onA(() => rm(join(A, "gone.txt")));
    await waitUntil(async () => !(await exists(join(B, "gone.txt"))), "the deletion reaches B");
    await tab("versions");
    const row = page.locator('[data-test=deleted] tr[data-path="gone.txt"]');
    await row.waitFor();
    await shoot("versions");
    await row.locator("[data-test=restore-deleted]").click();
    await page.locator("[data-test=message]", { hasText: "gone.txt" }).waitFor();
    await waitUntil(async () => (await text(join(A, "gone.txt"))) === "deleted on A, restored on B\n", "A gets the file back");
    await page.locator("[data-test=version-path]").fill("gone.txt");
    await page.getByRole("button", { name: "Show versions" }).click();
    await page.locator("[data-test=versions] tbody tr").nth(2).waitFor();
    assert.equal(await page.locator("[data-test=versions] tbody tr").count(), 3, "added, deleted, restored");
  });

  it("a folder paused from the page holds a change until it is resumed", async () => {
    await tab("folders");
    await page.locator("[data-test=pause]").click();
    await page.locator("[data-test=state]", { hasText: "paused" }).waitFor();
    await shoot("folders-paused");
    await onA(() => writeFile(join(A, "later.txt"), "waited\n"));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(await exists(join(B, "later.txt")), false, "nothing arrives while paused");
    await page.locator("[data-test=resume]").click();
    await waitUntil(async () => (await text(join(B, "later.txt"))) === "waited\n", "the change arrives after resume");
    await page.locator("[data-test=state]", { hasText: "idle" }).waitFor();
    await shoot("folders");
  });

  it("shows a 50 MiB download's progress moving", async (t) => {
    await tab("folders");
    await page.locator("[data-test=limit-down]").fill("10");
    await page.locator("[data-test=limits]").click();
    await waitUntil(
      async () => (await cliOk(["limit", B, "--json"], agentEnv(cloud.cloud.env))).stdout.includes('"download":10000000'),
      "the limit is saved",
    );
    await tab("transfers");
    const content = randomBytes(50 * 1024 * 1024);
    await writeFile(join(A, "video.bin"), content);
    const seen: number[] = [];
    const transfer = page.locator("[data-test=transfer]");
    await transfer.first().waitFor({ timeout: 60_000 });
    let shot = false;
    while (await transfer.count()) {
      const done = Number(
        await transfer
          .first()
          .getAttribute("data-done")
          .catch(() => NaN),
      );
      if (Number.isFinite(done) && done !== seen.at(-1)) seen.push(done);
      if (!shot && done > 10 * 1024 * 1024) {
        await shoot("transfers");
        shot = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    t.diagnostic(`progress seen: ${seen.map((n) => (n / 1048576).toFixed(1)).join(", ")} MiB`);
    assert.ok(seen.length >= 5, `the progress moved (${seen.length} values)`);
    assert.deepEqual(
      [...seen].sort((x, y) => x - y),
      seen,
      "it only moves forward",
    );
    await waitUntil(
      async () => (await readFile(join(B, "video.bin")).catch(() => Buffer.alloc(0))).equals(content),
      "B has the content",
      60_000,
    );
  });

  it("screenshots of the other views", async () => {
    for (const view of ["machines", "changes", "bucket"] as const) {
      await tab(view);
      await page.locator(view === "bucket" ? "[data-test=bucket]" : `[data-test=${view}]`).waitFor();
      await shoot(view);
    }
  });
});
