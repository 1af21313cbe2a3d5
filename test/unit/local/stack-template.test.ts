import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readNestedTemplate, resolve, TemplateError, type Deployed, type ResolveContext } from "../../../local/stack/template.ts";

describe("cloudbridge local --stack: a nested stack's template and outputs", () => {
  const deployed = new Map<string, Deployed>([
    ["Agents1", { ref: "stack-id-1", attributes: { "Outputs.AgentAliceQueueUrl": "http://q/alice" } }],
  ]);
  const context: ResolveContext = { pseudo: { "AWS::Region": "eu-west-1" }, parameters: {}, deployed };

  it("resolves Fn::GetAtt of a nested stack's Outputs.<Key> in its array, string and Fn::Sub forms", () => {
    assert.equal(resolve({ "Fn::GetAtt": ["Agents1", "Outputs.AgentAliceQueueUrl"] }, context), "http://q/alice");
    assert.equal(resolve({ "Fn::GetAtt": "Agents1.Outputs.AgentAliceQueueUrl" }, context), "http://q/alice");
    assert.equal(resolve({ "Fn::Sub": "${Agents1.Outputs.AgentAliceQueueUrl} in ${AWS::Region}" }, context), "http://q/alice in eu-west-1");
    assert.throws(
      () => resolve({ "Fn::GetAtt": ["Agents1", "Outputs.AgentBobQueueUrl"] }, context),
      /Fn::GetAtt Agents1\.Outputs\.AgentBobQueueUrl: no such attribute/,
    );
  });

  it("reads the template its TemplateURL names from the asset in cdk.out, and says what to do when it is not there", () => {
    const dir = mkdtempSync(join(tmpdir(), "cloudbridge-nested-"));
    try {
      const file = join(dir, "cloudbridgeAgents1.nested.template.json");
      writeFileSync(file, JSON.stringify({ Resources: { Q: { Type: "AWS::SQS::Queue" } } }));
      const assets = new Map([["be04dce7", file]]);
      const url = "https://s3.eu-west-1.amazonaws.com/cdk-hnb659fds-assets-000000000000-eu-west-1/be04dce7.json";
      assert.deepEqual(readNestedTemplate("Agents1", url, assets).Resources, { Q: { Type: "AWS::SQS::Queue" } });
      assert.throws(
        () => readNestedTemplate("Agents2", url.replace("be04dce7", "0000"), assets),
        (error: unknown) =>
          error instanceof TemplateError && /Agents2: its template .*0000\.json is not an asset in cdk\.out/.test(error.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
