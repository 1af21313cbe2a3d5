import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertEndpointUrl, ProtocolError } from "../../../protocol/index.ts";

describe("an endpoint setting (cloudbridge.endpoint, --endpoint, AWS_ENDPOINT_URL)", () => {
  it("takes http(s)://host[:port][/path] as written", () => {
    for (const url of [
      "http://127.0.0.1:4566",
      "https://s3.eu-west-1.amazonaws.com",
      "https://minio.example.com:9000/s3",
      "http://[::1]:4566/",
    ])
      assert.equal(assertEndpointUrl(url, "cloudbridge.endpoint"), url);
  });

  const wrong: [string, RegExp][] = [
    ["localhost:4566", /does not start with http:\/\/ or https:\/\//],
    ["127.0.0.1:4566", /does not start with http:\/\/ or https:\/\//],
    ["htp://127.0.0.1:4566", /does not start with http:\/\/ or https:\/\//],
    ["http//127.0.0.1:4566", /does not start with http:\/\/ or https:\/\//],
    ["s3://my-bucket", /does not start with http:\/\/ or https:\/\//],
    ["http://", /is not a URL/],
    ["http://127.0.0.1:99999", /is not a URL/],
    [" http://127.0.0.1:4566", /spaces around it/],
    ["http://127.0.0.1:4566?region=x", /has a query/],
    ["http://127.0.0.1:4566/#top", /has a fragment/],
    ["", /does not start with http:\/\/ or https:\/\//],
  ];
  for (const [url, why] of wrong) {
    it(`refuses ${JSON.stringify(url)}, saying what is wrong, which setting and what to write`, () => {
      assert.throws(
        () => assertEndpointUrl(url, "cloudbridge.endpoint (git config cloudbridge.endpoint URL)"),
        (error: unknown) => {
          assert.ok(error instanceof ProtocolError);
          assert.equal(error.code, "invalid-endpoint");
          assert.match(error.message, why);
          assert.match(error.message, /in cloudbridge\.endpoint \(git config cloudbridge\.endpoint URL\)/);
          assert.match(error.message, /Write it as http:\/\/HOST:PORT or https:\/\/HOST/);
          return true;
        },
      );
    });
  }

  it("never repeats a password, even in a URL that does not parse", () => {
    assert.throws(
      () => assertEndpointUrl("https://AKIDEXAMPLE:wJalrXUtnFEMIsecret@s3.example.com:99999", "--endpoint"),
      (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.match(error.message, /"https:\/\/s3\.example\.com:99999" in --endpoint is not valid: it is not a URL/);
        assert.doesNotMatch(error.message, /wJalrXUtnFEMIsecret|AKIDEXAMPLE/);
        return true;
      },
    );
  });

  it("refuses a user name and password in it without repeating the password", () => {
    assert.throws(
      () => assertEndpointUrl("https://AKIDEXAMPLE:wJalrXUtnFEMIsecret@s3.example.com", "--endpoint"),
      (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.match(error.message, /user name or password/);
        assert.doesNotMatch(error.message, /wJalrXUtnFEMIsecret|AKIDEXAMPLE/);
        return true;
      },
    );
  });
});
