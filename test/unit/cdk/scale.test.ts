import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { before, describe, it } from "node:test";
import { App } from "aws-cdk-lib";
import type { CloudAssembly } from "aws-cdk-lib/cx-api";
import { buildApp } from "../../../cdk/app.ts";
import { ConfigError } from "../../../cdk/config.ts";
import {
  assemblyTemplates,
  AWS_LIMITS,
  assertAssemblyWithinLimits,
  type NamedTemplate,
  templateViolations,
  type Template,
} from "../../../cdk/limits.ts";
import { repoTagKey } from "../../../cdk/repository-access.ts";
import { CDK_CONTEXT } from "../../helpers/cdk.ts";

/** A synth of `cloudbridge` as `npx cdk synth` does it (cdk-nag on), without bundling or CloudFormation's validator. */
function synth(cloudbridge: unknown): CloudAssembly {
  process.env.CDK_VALIDATION = "false";
  const outdir = mkdtempSync(join(tmpdir(), "cloudbridge-cdk-scale-"));
  process.once("exit", () => rmSync(outdir, { recursive: true, force: true }));
  const app = new App({ outdir, context: { ...CDK_CONTEXT, cloudbridge, "aws:cdk:bundling-stacks": [] } });
  return buildApp(app).app.synth();
}

const repoNames = (n: number) => Array.from({ length: n }, (_, i) => `repository-${String(i + 1).padStart(3, "0")}`);

describe("500 agents × 50 repositories", () => {
  const repos = repoNames(50);
  const config = {
    prefix: "team",
    repos,
    agentStacks: 20,
    agents: Array.from({ length: 500 }, (_, i) => ({ name: `machine-${i + 1}`, repos, ...(i === 7 ? { keySerial: 4 } : {}) })),
    xmpp: { service: "xmpps://xmpp.example.org:5223", notifier: "notifier@example.org", recipients: ["team@example.org"] },
    alarms: { emails: ["ops@example.org"] },
  };
  let assembly: CloudAssembly;
  let all: NamedTemplate[];
  before(() => {
    assembly = synth(config);
    all = assemblyTemplates(assembly);
  });

  it("synthesizes and respects every limit AWS_LIMITS names (policy sizes, managed policies, groups, tags, resources, outputs, filter policies)", () => {
    assert.doesNotThrow(() => assertAssemblyWithinLimits(assembly));
    assert.deepEqual(templateViolations(all), []);
    const count = (type: string) =>
      all.reduce((n, { template }) => n + Object.values(template.Resources ?? {}).filter((r) => r.Type === type).length, 0);
    assert.equal(count("AWS::IAM::User"), 500);
    assert.equal(count("AWS::SQS::Queue"), 500 * 2 + 3 + 1, "a queue and a DLQ per agent, a DLQ per function, the compaction queue");
    // The figures docs/stack.md quotes: the largest template and the largest policies.
    const largest = Math.max(...all.map(({ template }) => Object.keys(template.Resources ?? {}).length));
    assert.ok(largest <= AWS_LIMITS.resourcesPerStack.max);
  });

  it("grants the repositories by tag: each agent's user carries one tag per repository and joins the shared groups; its own policy names only its queue and secret", () => {
    const [, nested] = all;
    const resources = Object.values(nested!.template.Resources ?? {});
    const user = resources.find((r) => r.Type === "AWS::IAM::User")!;
    const tags = (user.Properties!.Tags as { Key: string; Value: string }[]).map((t) => t.Key).sort();
    assert.deepEqual(tags, repos.map(repoTagKey).sort());
    assert.ok((user.Properties!.Groups as unknown[]).length >= 1);
    const policy = resources.find((r) => r.Type === "AWS::IAM::Policy")!;
    const statements = (policy.Properties!.PolicyDocument as { Statement: { Sid: string; Action: string[] }[] }).Statement;
    assert.deepEqual(
      statements.map((s) => s.Sid),
      ["ReceiveOwnChanges", "ReadOwnKey"],
    );
  });

  it("keeps two access keys while a rotation overlaps (keySerial 4: keys 4 and 3), one otherwise", () => {
    const keys = all.flatMap(({ template }) =>
      Object.entries(template.Resources ?? {}).filter(([, r]) => r.Type === "AWS::IAM::AccessKey"),
    );
    assert.equal(keys.length, 501);
    const serials = keys.map(([, r]) => r.Properties!.Serial).filter((s) => s !== 1);
    assert.deepEqual(serials.sort(), [3, 4]);
  });

  it("names every agent's nested stack in the main stack's outputs", () => {
    const outputs = Object.keys((all[0]!.template as { Outputs: Record<string, unknown> }).Outputs);
    assert.equal(outputs.filter((key) => /^AgentStack\d+$/.test(key)).length, 20);
  });
});

describe("a configuration past a limit fails at synth, naming the limit", () => {
  it("`cdk synth` (the app as cdk.json runs it) exits 1 naming the limit and its value", () => {
    const dir = mkdtempSync(join(tmpdir(), "cloudbridge-cdk-limit-"));
    try {
      const repos = repoNames(51);
      const config = join(dir, "fifty-one-repositories.json");
      writeFileSync(config, JSON.stringify({ repos, agents: [{ name: "everything", repos }] }));
      // How the CDK CLI runs the app: its context in CDK_CONTEXT_JSON, its output folder in CDK_OUTDIR.
      const result = spawnSync(
        process.execPath,
        ["--disable-warning=ExperimentalWarning", fileURLToPath(new URL("../../../cdk/app.ts", import.meta.url))],
        {
          encoding: "utf8",
          timeout: 120_000,
          env: {
            PATH: process.env.PATH ?? "",
            CDK_VALIDATION: "false",
            CDK_OUTDIR: join(dir, "out"),
            CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_CONTEXT, cloudbridgeConfig: config, "aws:cdk:bundling-stacks": [] }),
          },
        },
      );
      assert.equal(result.status, 1, result.stderr);
      assert.match(result.stderr, /The synthesized stack would not deploy: it exceeds an AWS limit/);
      assert.match(result.stderr, /IAM: tags on one user is at most 50, this is 51 \(tagsPerUser\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("60 agents in one stack: CloudFormation's 500 resources per stack, with the way out", () => {
    const repos = repoNames(2);
    const assembly = synth({ repos, agents: Array.from({ length: 60 }, (_, i) => ({ name: `m${i}`, repos })) });
    assert.throws(
      () => assertAssemblyWithinLimits(assembly),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.code === "stack-limit-exceeded" &&
        /CloudFormation: resources in one stack is at most 500, this is \d+ \(resourcesPerStack\): spread the agents over nested stacks: raise "agentStacks"/.test(
          error.message,
        ),
    );
  });

  it("an agent of 51 repositories: IAM's 50 tags per user; 201 agents with a subset each: SNS's 200 filter policies per topic", () => {
    const repos = repoNames(51);
    const assembly = synth({
      repos,
      agentStacks: 10,
      agents: [{ name: "everything", repos }, ...Array.from({ length: 201 }, (_, i) => ({ name: `subset-${i}`, repos: [repos[i % 51]!] }))],
    });
    assert.throws(
      () => assertAssemblyWithinLimits(assembly),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError && error.code === "stack-limit-exceeded");
        assert.match(error.message, /IAM: tags on one user is at most 50, this is 51 \(tagsPerUser\)/);
        assert.match(
          error.message,
          /SNS: subscription filter policies on one topic \(default quota\) is at most 200, this is 201 \(filterPoliciesPerTopic\)/,
        );
        return true;
      },
    );
  });

  it("counts policy sizes as IAM does once references resolve: a user's inline policies over 2,048, a managed policy over 6,144", () => {
    const statement = (n: number) => ({
      Effect: "Allow",
      Action: "s3:GetObject",
      Resource: Array.from({ length: n }, (_, i) => ({ "Fn::Join": ["", [{ "Fn::GetAtt": ["Data", "Arn"] }, `/repos/r${i}.git/*`]] })),
    });
    const template: Template = {
      Resources: {
        Data: { Type: "AWS::S3::Bucket" },
        User: { Type: "AWS::IAM::User" },
        Inline: { Type: "AWS::IAM::Policy", Properties: { Users: [{ Ref: "User" }], PolicyDocument: { Statement: [statement(20)] } } },
        Managed: { Type: "AWS::IAM::ManagedPolicy", Properties: { PolicyDocument: { Statement: [statement(60)] } } },
      },
    };
    const violations = templateViolations([{ name: "s", template }]);
    assert.deepEqual(
      violations.map((v) => [v.limit, v.subject]),
      [
        ["managedPolicyChars", "Managed"],
        ["userInlinePolicyChars", "User"],
      ],
    );
    // A bucket ARN counts at its longest (arn:aws-us-gov:s3::: and 63 characters): 20 resources of ~105 characters.
    assert.ok(violations[1]!.value > 2_048 && violations[1]!.value < 2_300, String(violations[1]!.value));
  });
});
