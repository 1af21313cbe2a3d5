/**
 * What an idle agent costs per repository it syncs, measured rather than assumed: an idle daemon's
 * requests are counted by a proxy in front of `cloudbridge local` (in its own process), with its reconcile
 * and presence intervals shortened so a minute holds several of each; they are then scaled to the
 * defaults (`cloudbridge.reconcileInterval` 600 s, `cloudbridge.presenceInterval` 3600 s) and priced at
 * the us-east-1 list prices docs/cost.md records. The per-agent and per-stack lines (secrets, the queue's
 * long polls, the compaction queue's pollers) do not depend on the agent's code and are in docs/cost.md.
 *
 *   node --disable-warning=ExperimentalWarning bench/idle-cost.ts
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cloudbridge, daemon, startCloudProcess, startCountingProxy, stopChild } from "./agent-common.ts";

const IDLE_SECONDS = 60;
const RECONCILE_SECONDS = 10;
const PRESENCE_SECONDS = 20;
const MONTH_SECONDS = 30 * 24 * 3600;
/** S3 Standard, us-east-1: PUT, COPY, POST, LIST per request; GET, HEAD and others per request. */
const PRICE = { tier1: 0.005 / 1000, tier2: 0.0004 / 1000 };

const cloud = await startCloudProcess();
const proxy = await startCountingProxy(cloud.endpoint);
const root = mkdtempSync(join(tmpdir(), "cloudbridge-idle-cost-"));
try {
  const env = { ...cloud.env, AWS_ENDPOINT_URL: proxy.endpoint, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  const [a, b] = [join(root, "a"), join(root, "b")];
  await cloudbridge(["init", a, "--remote", "s3://cloudbridge/notes"], env, { quiet: true });
  writeFileSync(join(a, "note.txt"), "a note\n");
  await cloudbridge(["sync", a], env, { quiet: true });
  await cloudbridge(["clone", "s3://cloudbridge/notes", b], env, { quiet: true });
  execFileSync("git", ["-C", a, "config", "cloudbridge.presenceInterval", String(PRESENCE_SECONDS)]);

  await cloudbridge(["sync", a], env, { quiet: true }); // learns what the clone wrote: from now on nothing changes
  proxy.reset();
  await cloudbridge(["sync", a], env, { quiet: true });
  const round = [...proxy.s3Requests];

  const idle = daemon(a, env, ["--listen", "poll", "--poll-interval", "86400", "--reconcile-interval", String(RECONCILE_SECONDS)]);
  await idle.ready;
  await new Promise((r) => setTimeout(r, 2000)); // the first round and presence record are start-up, not idle
  proxy.reset();
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const requests = [...proxy.s3Requests];
  await stopChild(idle.child);

  const kind = (r: string) => (r.startsWith("PUT") || r.includes("list-type=") ? "tier1" : "tier2");
  const presencePuts = requests.filter((r) => r.startsWith("PUT") && r.includes("/agents/")).length;
  const reconcileRequests = requests.filter((r) => !(r.startsWith("PUT") && r.includes("/agents/")));
  const rounds = IDLE_SECONDS / RECONCILE_SECONDS;
  const perRound = { tier1: 0, tier2: 0 };
  for (const r of reconcileRequests) perRound[kind(r)] += 1 / rounds;
  const perPresence = presencePuts / (IDLE_SECONDS / PRESENCE_SECONDS);
  const month = {
    rounds: MONTH_SECONDS / 600,
    presence: MONTH_SECONDS / 3600,
  };
  const cost = {
    reconcile: month.rounds * (perRound.tier1 * PRICE.tier1 + perRound.tier2 * PRICE.tier2),
    presence: month.presence * perPresence * PRICE.tier1,
  };
  const lines = [
    `one \`cloudbridge sync\` with nothing to do: ${round.length} S3 requests: ${round.join(", ")}`,
    `idle daemon over ${IDLE_SECONDS} s (reconcile every ${RECONCILE_SECONDS} s, presence every ${PRESENCE_SECONDS} s): ${requests.length} S3 requests, SQS ${proxy.counts.sqs}, SNS ${proxy.counts.sns}`,
    `  per reconcile round: ${perRound.tier1.toFixed(2)} PUT/LIST + ${perRound.tier2.toFixed(2)} GET/HEAD; per presence refresh: ${perPresence.toFixed(2)} PUT`,
    `at the defaults (reconcile 600 s, presence 3600 s), per agent and repository per month:`,
    `  reconcile ${Math.round(month.rounds)} rounds: $${cost.reconcile.toFixed(4)}; presence ${Math.round(month.presence)} PUT: $${cost.presence.toFixed(4)}; total $${(cost.reconcile + cost.presence).toFixed(4)}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  await proxy.stop();
  await cloud.stop();
  rmSync(root, { recursive: true, force: true });
}
