import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { App } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { buildApp } from "../../../cdk/app.ts";
import { CDK_CONTEXT } from "../../helpers/cdk.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** No network at all when the kernel lets us (a fresh network namespace has only a downed loopback). */
function offlinePrefix(): string[] {
  return spawnSync("unshare", ["-n", "true"]).status === 0 ? ["unshare", "-n"] : [];
}

/** Imports a bundle in a fresh Node 24 (as Lambda would) and invokes its handler with a malformed event. */
function loadBundle(path: string): string {
  const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(path).href)}); console.log(JSON.stringify(await handler({ nonsense: true }, {})) ?? "undefined");`;
  const result = spawnSync(join(ROOT, "node_modules/.bin/node"), ["--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 30_000,
    env: {
      PATH: process.env.PATH ?? "",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "unused",
      AWS_SECRET_ACCESS_KEY: "unused",
      POWERTOOLS_METRICS_DISABLED: "true",
      POWERTOOLS_LOG_LEVEL: "CRITICAL",
      CHANGE_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:cloudbridge-changes",
      XMPP_SERVICE: "xmpp://127.0.0.1:9",
      XMPP_RECIPIENTS: "agent@example.org",
      XMPP_SECRET_ID: "cloudbridge/xmpp",
      BUCKET_NAME: "cloudbridge",
      REPOS: "notes",
    },
  });
  assert.equal(result.status, 0, `${path} did not load:\n${result.stderr.slice(-1500)}`);
  return result.stdout.trim().split("\n").at(-1) ?? "";
}

describe("cdk synth", () => {
  it("`npx cdk synth` exits 0 with no network, from a shell whose node is the system's, with cdk-nag on and nothing unacknowledged; the bundles load", async () => {
    const out = await mkdtemp(join(tmpdir(), "cloudbridge-synth-"));
    try {
      // A fresh shell: no node_modules/.bin on PATH, so `npx` and the CDK CLI run on the system node;
      // cdk.json's app command must bring the project's Node 24 itself.
      const PATH = (process.env.PATH ?? "")
        .split(delimiter)
        .filter((dir) => !dir.includes("node_modules"))
        .join(delimiter);
      const offline = offlinePrefix();
      const env = {
        PATH,
        HOME: process.env.HOME ?? "/root",
        ...(offline.length ? {} : { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9" }),
      };
      // Every feature on (XMPP included), so every function is bundled and checked.
      const config = "test/unit/cdk/fixtures/full-stack.json";
      const [command, ...args] = [
        ...offline,
        "npx",
        "--no-install",
        "cdk",
        "synth",
        "--quiet",
        "--output",
        out,
        "-c",
        `cloudbridgeConfig=${config}`,
      ];
      const result = spawnSync(command!, args, { cwd: ROOT, env, encoding: "utf8", timeout: 180_000 });
      assert.equal(
        result.status,
        0,
        `cdk synth failed (${offline.length ? "offline namespace" : "dead proxy"}):\n${result.stdout}\n${result.stderr}`,
      );
      const template = JSON.parse(readFileSync(join(out, "cloudbridge.template.json"), "utf8")) as {
        Resources: Record<string, { Type: string }>;
      };
      assert.ok(Object.values(template.Resources).some((r) => r.Type === "AWS::S3::Bucket"));
      const report = JSON.parse(readFileSync(join(out, "validation-report.json"), "utf8")) as { pluginReports: unknown[] };
      assert.deepEqual(report.pluginReports, [], "no plugin reported a finding");
      // The functions were bundled by the local esbuild into ES modules that load on Node 24 and answer.
      const bundles = readdirSync(out).filter((name) => name.startsWith("asset.") && existsSync(join(out, name, "index.mjs")));
      assert.equal(bundles.length, 3, `bundled functions: ${bundles.join(", ")}`);
      const answers = bundles.map((bundle) => loadBundle(join(out, bundle, "index.mjs"))).sort();
      assert.ok(answers.includes('{"published":0,"ignored":0,"skipped":1}'), answers.join("\n")); // change fan-out
      assert.ok(answers.includes('{"sent":0,"skipped":1}'), answers.join("\n")); // XMPP fan-out
      assert.ok(
        answers.some((a) => a.startsWith('{"compacted":{},"failed":{},"skipped":["not a compaction request')),
        answers.join("\n"),
      );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it("fails when cdk-nag finds something nobody acknowledged", async () => {
    process.env.CDK_VALIDATION = "false";
    const outdir = await mkdtemp(join(tmpdir(), "cloudbridge-nag-"));
    try {
      const app = new App({ outdir, context: { ...CDK_CONTEXT, "aws:cdk:bundling-stacks": [] } });
      const { stack } = buildApp(app);
      new s3.Bucket(stack, "Unreviewed"); // no access logs, no TLS-only policy
      assert.throws(() => app.synth(), /Validation failed/);
      const report = JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")) as {
        pluginReports: { violations: { ruleName: string }[] }[];
      };
      const rules = report.pluginReports.flatMap((r) => r.violations.map((v) => v.ruleName));
      assert.ok(rules.includes("AwsSolutions-S1") && rules.includes("AwsSolutions-S10"), rules.join(", "));
    } finally {
      await rm(outdir, { recursive: true, force: true });
    }
  });
});
