import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { faultFor, parseFaultRates } from "../../../local/stack/faults.ts";
import { requestedActions, type IncomingRequest } from "../../../local/stack/request-actions.ts";

const names = {
  queueArn: (url: string) => `arn:aws:sqs:us-east-1:000000000000:${url.split("/").at(-1)}`,
  secretArn: (id: string) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}`,
  stackArn: (name: string) => `arn:aws:cloudformation:us-east-1:000000000000:stack/${name}/*`,
  functionArn: (name: string) => (name.startsWith("arn:") ? name : `arn:aws:lambda:us-east-1:000000000000:function:${name}`),
};
const s3 = (method: string, key: string | undefined, query: Record<string, string> = {}, extra: Partial<IncomingRequest> = {}) =>
  requestedActions({ service: "s3", region: "us-east-1", method, bucket: "b", key, query, headers: {}, body: undefined, ...extra }, names);

describe("which IAM action each request is authorized as", () => {
  it("S3 object calls, multipart steps and versions", () => {
    const action = (method: string, key: string | undefined, query: Record<string, string> = {}) =>
      s3(method, key, query)?.map((a) => a.action);
    assert.deepEqual(action("GET", "repos/a.git/HEAD"), ["s3:GetObject"]);
    assert.deepEqual(action("HEAD", "repos/a.git/HEAD"), ["s3:GetObject"]);
    assert.deepEqual(action("GET", "k", { versionId: "v" }), ["s3:GetObjectVersion"]);
    assert.deepEqual(action("PUT", "k"), ["s3:PutObject"]);
    assert.deepEqual(action("POST", "k", { uploads: "" }), ["s3:PutObject"]);
    assert.deepEqual(action("PUT", "k", { partNumber: "1", uploadId: "u" }), ["s3:PutObject"]);
    assert.deepEqual(action("POST", "k", { uploadId: "u" }), ["s3:PutObject"]);
    assert.deepEqual(action("DELETE", "k", { uploadId: "u" }), ["s3:AbortMultipartUpload"]);
    assert.deepEqual(action("GET", "k", { uploadId: "u" }), ["s3:ListMultipartUploadParts"]);
    assert.deepEqual(action("DELETE", "k"), ["s3:DeleteObject"]);
    assert.deepEqual(action("DELETE", "k", { versionId: "v" }), ["s3:DeleteObjectVersion"]);
    assert.deepEqual(s3("GET", "k")?.[0]?.resource, "arn:aws:s3:::b/k");
  });

  it("S3 listings carry s3:prefix; the bucket's configuration is its own action; copies also read their source", () => {
    assert.deepEqual(s3("GET", undefined, { "list-type": "2", prefix: "repos/a.git/", delimiter: "/" }), [
      { action: "s3:ListBucket", resource: "arn:aws:s3:::b", context: { "s3:prefix": "repos/a.git/", "s3:delimiter": "/" } },
    ]);
    assert.deepEqual(s3("GET", undefined, { "list-type": "2" })?.[0]?.context, {}, "no prefix: the whole bucket");
    assert.deepEqual(s3("GET", undefined, { versions: "" })?.[0]?.action, "s3:ListBucketVersions");
    assert.deepEqual(s3("PUT", undefined, { policy: "" })?.[0]?.action, "s3:PutBucketPolicy");
    assert.deepEqual(s3("GET", undefined, { notification: "" })?.[0]?.action, "s3:GetBucketNotification");
    assert.deepEqual(
      s3("PUT", "to", {}, { headers: { "x-amz-copy-source": "/b/from%20here" } })?.map((a) => [a.action, a.resource]),
      [
        ["s3:PutObject", "arn:aws:s3:::b/to"],
        ["s3:GetObject", "arn:aws:s3:::b/from here"],
      ],
    );
    const deletes = s3(
      "POST",
      undefined,
      { delete: "" },
      {
        body: Buffer.from("<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>v</VersionId></Object></Delete>"),
      },
    );
    assert.deepEqual(
      deletes?.map((a) => [a.action, a.resource]),
      [
        ["s3:DeleteObject", "arn:aws:s3:::b/a&b"],
        ["s3:DeleteObjectVersion", "arn:aws:s3:::b/c"],
      ],
    );
  });

  it("SQS, Secrets Manager, SNS and CloudFormation by target or form action; an unknown call is not guessed", () => {
    const json = (service: string, target: string, body: object) =>
      requestedActions(
        {
          service,
          region: "us-east-1",
          method: "POST",
          bucket: undefined,
          key: undefined,
          query: {},
          headers: { "x-amz-target": target },
          body: Buffer.from(JSON.stringify(body)),
        },
        names,
      );
    assert.deepEqual(json("sqs", "AmazonSQS.ReceiveMessage", { QueueUrl: "http://h/000000000000/q1" }), [
      { action: "sqs:ReceiveMessage", resource: "arn:aws:sqs:us-east-1:000000000000:q1", context: {} },
    ]);
    assert.deepEqual(
      json("secretsmanager", "secretsmanager.GetSecretValue", { SecretId: "s" })?.[0]?.action,
      "secretsmanager:GetSecretValue",
    );
    const form = (service: string, body: string) =>
      requestedActions(
        {
          service,
          region: "us-east-1",
          method: "POST",
          bucket: undefined,
          key: undefined,
          query: {},
          headers: {},
          body: Buffer.from(body),
        },
        names,
      );
    assert.deepEqual(form("sns", "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3At")?.[0], {
      action: "sns:Publish",
      resource: "arn:aws:sns:us-east-1:000000000000:t",
      context: {},
    });
    assert.equal(form("sns", "Action=PublishBatch&TopicArn=t")?.[0]?.action, "sns:Publish", "PublishBatch is authorized as Publish");
    assert.equal(json("sqs", "AmazonSQS.DeleteMessageBatch", { QueueUrl: "q" })?.[0]?.action, "sqs:DeleteMessage");
    assert.deepEqual(form("cloudformation", "Action=DescribeStacks&StackName=cb")?.[0]?.resource, names.stackArn("cb"));
    assert.equal(form("sns", ""), undefined);
    const invoke = (method: string, path: string) =>
      requestedActions(
        {
          service: "lambda",
          region: "us-east-1",
          method,
          bucket: undefined,
          key: undefined,
          query: {},
          headers: {},
          body: undefined,
          path,
        },
        names,
      );
    assert.deepEqual(invoke("POST", "/2015-03-31/functions/cb-Compaction/invocations"), [
      { action: "lambda:InvokeFunction", resource: names.functionArn("cb-Compaction"), context: {} },
    ]);
    assert.equal(
      invoke("POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations")?.[0]?.resource,
      "arn:aws:lambda:us-east-1:000000000000:function:f",
    );
    assert.equal(invoke("GET", "/2015-03-31/functions/f"), undefined, "any other Lambda call is refused as unknown");
    assert.equal(
      requestedActions(
        {
          service: "dynamodb",
          region: "us-east-1",
          method: "POST",
          bucket: undefined,
          key: undefined,
          query: {},
          headers: {},
          body: undefined,
        },
        names,
      ),
      undefined,
    );
  });
});

describe("the fault switch", () => {
  it("409 only to conditional writes, 503 to any S3 request, at the given rates", () => {
    const counts = { conflict: 0, slowDown: 0 };
    const always = () => 0;
    const conditional = { method: "PUT", isS3Object: true, headers: { "if-none-match": "*" } };
    assert.equal(faultFor(conditional, { conflict: 1 }, counts, always)?.code, "ConditionalRequestConflict");
    assert.equal(faultFor({ ...conditional, headers: {} }, { conflict: 1 }, counts, always), undefined, "an unconditional PUT");
    assert.equal(faultFor({ ...conditional, method: "GET" }, { conflict: 1 }, counts, always), undefined, "a read");
    assert.equal(faultFor({ method: "GET", isS3Object: false, headers: {} }, { slowDown: 1 }, counts, always)?.status, 503);
    assert.equal(
      faultFor(conditional, { conflict: 0.05, slowDown: 0.05 }, counts, () => 0.5),
      undefined,
      "above the rate",
    );
    assert.deepEqual(counts, { conflict: 1, slowDown: 1 });
  });

  it("--faults is parsed, and a wrong one says what is allowed", () => {
    assert.deepEqual(parseFaultRates("conflict=0.05,slowdown=0.1"), { conflict: 0.05, slowDown: 0.1 });
    assert.throws(() => parseFaultRates("conflict=2"), /from 0 to 1/);
    assert.throws(() => parseFaultRates("timeout=0.1"), /conflict=<rate> and slowdown=<rate>/);
  });
});
