import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { S3ServiceException } from "@aws-sdk/client-s3";
import { CliError, EXIT_CODE, exitCodeFor, explainError } from "../../../agent/cli/errors.ts";
import { FolderError } from "../../../agent/folder/index.ts";
import { main } from "../../../agent/cli/main.ts";
import { CloudAccessError, explainAccessError, PreconditionFailed } from "../../../objectstore/index.ts";
import { CloudbridgeError, ProtocolError } from "../../../protocol/index.ts";

/** docs/agent.md: exit 2 for a wrong command or setting, 3 for refused content, 1 otherwise. */
describe("exit codes, from error codes", () => {
  it("2 for a wrong option, an unnamed repository, a value the protocol refuses, a folder not set up", () => {
    assert.equal(exitCodeFor(new CliError("invalid-option", "--port x")), 2);
    assert.equal(exitCodeFor(new CliError("unknown-repository", "which?")), 2);
    assert.equal(exitCodeFor(new ProtocolError("invalid-remote-url", "not a URL")), 2);
    assert.equal(exitCodeFor(new FolderError("invalid-setting", "cloudbridge.bucket is not a bucket name")), 2);
    assert.equal(exitCodeFor(new FolderError("not-a-folder", "not set up")), 2);
    assert.equal(exitCodeFor(new FolderError("daemon-running", "a daemon syncs it")), 2);
  });

  it("2 for a command line the CLI cannot read (an unknown option or command, a missing argument), 0 for --help and --version", async () => {
    const quiet = { write: process.stderr.write, out: process.stdout.write };
    // commander prints its own line (and the help): not this test's output.
    process.stderr.write = () => true;
    process.stdout.write = () => true;
    try {
      assert.equal(await main(["log", "--limit", "abc"]), 2);
      assert.equal(await main(["no-such-command"]), 2);
      assert.equal(await main(["versions"]), 2);
      assert.equal(await main(["--help"]), 0);
      assert.equal(await main(["--version"]), 0);
    } finally {
      process.stderr.write = quiet.write;
      process.stdout.write = quiet.out;
    }
  });

  it("3 when a sync round refused content from the bucket", () => {
    assert.equal(exitCodeFor(new CliError("content-refused", "refused 1 path")), 3);
  });

  it("1 for everything else: partial failures, the bucket's refusals, a stack without an output, unknown codes, plain errors", () => {
    assert.equal(exitCodeFor(new CliError("incomplete", "1 of 2 files")), 1);
    assert.equal(exitCodeFor(new PreconditionFailed("k", "If-Match")), 1);
    assert.equal(exitCodeFor(new ProtocolError("missing-stack-output", "no output")), 1);
    assert.equal(exitCodeFor(new CloudbridgeError("something-new", "?")), 1);
    assert.equal(exitCodeFor(new Error("boom")), 1);
    assert.equal(exitCodeFor("not even an error"), 1);
  });

  it("names an error after its class and keeps its code", () => {
    const error = new PreconditionFailed("k", "If-Match");
    assert.equal(error.name, "PreconditionFailed");
    assert.equal(error.code, "precondition-failed");
    assert.ok(error instanceof CloudbridgeError);
  });
});

/** The exit-code table of docs/agent.md, as error code → exit code. */
function documentedExitCodes(): Record<string, number> {
  const doc = readFileSync(new URL("../../../docs/agent.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("### Exit codes"), doc.indexOf("### Status"));
  const table: Record<string, number> = {};
  for (const line of section.split("\n")) {
    const row = /^\| ([0-3]) \|[^|]*\|(.*)\|$/.exec(line);
    if (!row) continue;
    for (const [, code] of row[2]!.matchAll(/`([a-z-]+)`/g)) table[code!] = Number(row[1]);
  }
  return table;
}

describe("the exit codes docs/agent.md documents", () => {
  it("are exactly the code's table: every error code, with the same exit code", () => {
    const documented = documentedExitCodes();
    assert.ok(Object.keys(documented).length > 20, "the table was found and read");
    assert.deepEqual(
      Object.entries(documented).sort(([a], [b]) => a.localeCompare(b)),
      Object.entries(EXIT_CODE).sort(([a], [b]) => a.localeCompare(b)),
    );
  });

  it("setup failures: 2 for what a setting or the setup must change, 1 for an endpoint that may come back", () => {
    for (const code of [
      "no-region",
      "no-credentials",
      "credentials-refused",
      "wrong-endpoint",
      "wrong-region",
      "no-such-bucket",
      "access-denied",
    ] as const)
      assert.equal(exitCodeFor(new CloudAccessError(code, "?")), 2, code);
    assert.equal(exitCodeFor(new CloudAccessError("endpoint-unreachable", "?")), 1);
    assert.equal(exitCodeFor(new FolderError("existing-history", "?")), 2);
  });
});

describe("a bucket that cannot be used is said with what to do", () => {
  const s3Error = (name: string, status: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new S3ServiceException({ name, $fault: "client", $metadata: { httpStatusCode: status }, message: name }), extra);
  /** The error with its answer's headers, as the SDK keeps them (`$response`, not enumerable). */
  const answered = <E extends Error>(error: E, headers: Record<string, string>): E =>
    Object.defineProperty(error, "$response", { value: { statusCode: 0, headers }, enumerable: false });
  /** What S3 puts on every answer (S3 API reference, "Common response headers"). */
  const S3_MARKS = {
    "x-amz-request-id": "4442587FB7D0A2F9",
    "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=",
    server: "AmazonS3",
  };

  it("names each setup failure the SDK reports, whatever wraps it", () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [new Error("Region is missing"), "no-region", /git config cloudbridge\.region/],
      [
        Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }),
        "no-credentials",
        /AWS_ACCESS_KEY_ID/,
      ],
      [
        new Error("request failed", {
          cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:4599"), {
            code: "ECONNREFUSED",
            address: "127.0.0.1",
            port: 4599,
          }),
        }),
        "endpoint-unreachable",
        /127\.0\.0\.1:4599 \(ECONNREFUSED\).*cloudbridge local/,
      ],
      [s3Error("NoSuchBucket", 404, { BucketName: "nosuchbucket" }), "no-such-bucket", /"nosuchbucket" does not exist/],
      // Another service at the endpoint: an answer without S3's request ids, a web page the SDK cannot read as XML.
      [
        answered(Object.assign(s3Error("NotFound", 404), { message: "UnknownError" }), { server: "nginx" }),
        "wrong-endpoint",
        /answered, but not as S3 does \(HTTP 404 without S3's request ids\): check that cloudbridge\.endpoint/,
      ],
      [answered(Object.assign(s3Error("Forbidden", 403), { message: "UnknownError" }), {}), "wrong-endpoint", /not as S3 does/],
      [
        answered(Object.assign(s3Error("301", 301), { message: "UnknownError" }), { location: "https://x/" }),
        "wrong-endpoint",
        /not as S3 does/,
      ],
      // S3 itself, a bucket in another region: a HEAD's bare 400 or 301, and the error document of any other request.
      [
        answered(Object.assign(s3Error("BadRequest", 400), { message: "UnknownError" }), {
          ...S3_MARKS,
          "x-amz-bucket-region": "eu-west-1",
        }),
        "wrong-region",
        /The bucket is in the region eu-west-1 \(S3 answered HTTP 400 BadRequest\): use that region: `git config cloudbridge\.region eu-west-1`.*--region eu-west-1/,
      ],
      [
        answered(Object.assign(s3Error("301", 301), { message: "UnknownError" }), { ...S3_MARKS, "x-amz-bucket-region": "ap-south-1" }),
        "wrong-region",
        /is in the region ap-south-1 \(S3 answered HTTP 301\)/,
      ],
      [
        answered(s3Error("AuthorizationHeaderMalformed", 400, { Region: "eu-central-1" }), { "x-amz-request-id": "R" }),
        "wrong-region",
        /is in the region eu-central-1 \(S3 answered HTTP 400 AuthorizationHeaderMalformed\)/,
      ],
      [
        new Error(
          "@aws-sdk XML parse error: mismatched tags <meta> and </head>.\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.",
        ),
        "wrong-endpoint",
        /answered, but not as S3 does \(an answer that is not S3's XML\)/,
      ],
      [
        Object.assign(new Error("write EPROTO C03CAAEEB67F0000:error:0A0000C6:SSL routines:tls_get_more_records:packet length too long"), {
          code: "EPROTO",
        }),
        "wrong-endpoint",
        /not as S3 does \(EPROTO: no TLS there; is it an http:\/\/ endpoint\?\)/,
      ],
      [s3Error("AccessDenied", 403), "access-denied", /Access denied.*own keys/],
      [s3Error("InvalidAccessKeyId", 403), "credentials-refused", /does not accept these AWS credentials/],
      [
        s3Error("ExpiredToken", 400),
        "credentials-refused",
        /does not accept these AWS credentials \(ExpiredToken: their session has expired, get new ones\)/,
      ],
    ];
    for (const [error, code, advice] of cases) {
      const explained = explainAccessError(error);
      assert.ok(explained, code);
      assert.equal(explained.code, code);
      assert.match(explained.message, advice);
      assert.ok(!explained.message.includes("\n"), "one line");
    }
  });

  it("does not take S3's own answer without a body for another service's", () => {
    // A HEAD has no body, whatever went wrong: S3's request ids say it was S3's answer.
    const bare = (status: number, headers: Record<string, string>) =>
      answered(Object.assign(s3Error(String(status), status), { message: "UnknownError" }), headers);
    assert.equal(explainAccessError(bare(404, S3_MARKS)), undefined);
    assert.equal(explainAccessError(bare(400, S3_MARKS)), undefined);
    assert.equal(explainAccessError(bare(405, { server: "AmazonS3" })), undefined);
    assert.equal(explainAccessError(bare(403, S3_MARKS))?.code, "access-denied");
    // Another AWS service's answer (SQS, Secrets Manager) is AWS's, not another web server's.
    assert.equal(explainAccessError(answered(s3Error("AccessDenied", 400), { "x-amzn-requestid": "R" }))?.code, "access-denied");
  });

  it("leaves every other error as it is", () => {
    const other = new Error("something else");
    assert.equal(explainError(other), other);
    assert.equal(explainAccessError(s3Error("SlowDown", 503)), undefined);
    // A busy answer without a body passes by itself: not taken for another service.
    assert.equal(explainAccessError(Object.assign(s3Error("ServiceUnavailable", 503), { message: "UnknownError" })), undefined);
    assert.equal(explainAccessError(new PreconditionFailed("k", "If-Match")), undefined);
  });
});
