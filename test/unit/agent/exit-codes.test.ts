import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CliError, exitCodeFor } from "../../../agent/cli/errors.ts";
import { FolderError } from "../../../agent/folder/index.ts";
import { PreconditionFailed } from "../../../objectstore/index.ts";
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
