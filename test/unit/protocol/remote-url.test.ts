import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolError } from "../../../protocol/errors.ts";
import { formatRemoteUrl, parseRemoteUrl } from "../../../protocol/remote-url.ts";

describe("remote URLs (cloudbridge::s3://bucket[/prefix]/repo)", () => {
  it("parses bucket, prefix and repository, with or without the cloudbridge:: part", () => {
    assert.deepEqual(parseRemoteUrl("s3://my-bucket/photos"), { bucket: "my-bucket", prefix: "", repo: "photos" });
    assert.deepEqual(parseRemoteUrl("cloudbridge::s3://my-bucket/team/a/photos.git/"), {
      bucket: "my-bucket",
      prefix: "team/a/",
      repo: "photos",
    });
    assert.equal(formatRemoteUrl(parseRemoteUrl("s3://b.example/team/photos")), "cloudbridge::s3://b.example/team/photos");
  });

  it("refuses what is not a bucket and repository, saying how to write it", () => {
    for (const bad of [
      "https://x/y",
      "s3://bucket",
      "s3://Bad_Bucket/r",
      "s3://b/../r",
      "s3://bucket/..",
      "s3://bucket/a b",
      "s3://1.2.3.4/r",
    ]) {
      assert.throws(
        () => parseRemoteUrl(bad),
        // One sentence ends once: the reason a name is refused ends with its own period.
        (e: unknown) =>
          e instanceof ProtocolError &&
          e.code === "invalid-remote-url" &&
          /cloudbridge::s3:\/\//.test(e.message) &&
          !/\.\. /.test(e.message),
        bad,
      );
    }
  });
});
