import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { plainS3Settings, type BucketAccess } from "../../../objectstore/aws-settings.ts";
import { awsClientConfig } from "../../../objectstore/bucket-client.ts";
import { bucketAccessFrom } from "../../../gitstore/bucket-access.ts";
import { createS3Client } from "../../../objectstore/s3-object-store.ts";

/**
 * The light client may only sign with the settings the AWS SDK would use: each case is resolved by both, in
 * the same environment and shared files, and where the light client declines, the SDK is what runs.
 */
describe("plainS3Settings: the AWS SDK's settings, or none", () => {
  let dir: string;
  let files = 0;
  const saved = { ...process.env };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cloudbridge-aws-settings-"));
  });
  after(async () => {
    process.env = saved;
    await rm(dir, { recursive: true, force: true });
  });

  /** An environment with these shared files (new paths each time: the SDK caches what it read by path). */
  async function environment(vars: Record<string, string>, config = "", credentials = ""): Promise<NodeJS.ProcessEnv> {
    const n = files++;
    const configFile = join(dir, `config-${n}`);
    const credentialsFile = join(dir, `credentials-${n}`);
    await writeFile(configFile, config);
    await writeFile(credentialsFile, credentials);
    return { HOME: dir, AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: credentialsFile, ...vars };
  }

  /** What the SDK client the agent makes (createS3Client, awsClientConfig) resolves in `env`: region and key. */
  async function sdkResolves(env: NodeJS.ProcessEnv, access: BucketAccess = {}) {
    process.env = env;
    const client = createS3Client(awsClientConfig(access, env));
    try {
      const credentials = await client.config.credentials();
      return {
        region: await client.config.region(),
        key: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
        },
      };
    } finally {
      client.destroy();
      process.env = saved;
    }
  }

  const cases: [string, () => Promise<NodeJS.ProcessEnv>][] = [
    [
      "keys and region in the environment",
      () => environment({ AWS_ACCESS_KEY_ID: "AKENV", AWS_SECRET_ACCESS_KEY: "env-secret", AWS_REGION: "eu-west-1" }),
    ],
    [
      "a session token in the environment, the region from the default profile",
      () =>
        environment(
          { AWS_ACCESS_KEY_ID: "AKENV", AWS_SECRET_ACCESS_KEY: "env-secret", AWS_SESSION_TOKEN: "token" },
          "[default]\nregion = ap-southeast-2\noutput = json\n",
        ),
    ],
    [
      "AWS_PROFILE: its static key from the credentials file and its region from the config file, over keys in the environment",
      () =>
        environment(
          { AWS_PROFILE: "cloudbridge-stack-laptop", AWS_ACCESS_KEY_ID: "AKENV", AWS_SECRET_ACCESS_KEY: "env-secret" },
          "[profile cloudbridge-stack-laptop]\nregion = eu-central-1\n[default]\nregion = us-west-2\n",
          "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = default\n\n[cloudbridge-stack-laptop]\naws_access_key_id = AKPROFILE\naws_secret_access_key = profile-secret\n",
        ),
    ],
    [
      "the default profile's key, the credentials file's region over the config file's",
      () =>
        environment(
          {},
          "# comment\n[default]\nregion = us-east-2\ncli_pager =\n",
          "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = default-secret\naws_session_token = t0ken\nregion = us-west-1\n",
        ),
    ],
  ];
  cases.push(
    [
      "the shared files as the SDK parses them: comments after white space, quoted and default profile headers, credentials-file sections named `profile x` are no profile",
      () =>
        environment(
          { AWS_PROFILE: "quoted" },
          '; top\n[profile "quoted"] # the profile\nregion = eu-north-1 ; Stockholm\n[profile other]\nregion = us-west-2\n',
          "[profile quoted]\naws_access_key_id = AKWRONG\naws_secret_access_key = wrong\n[quoted]\naws_access_key_id = AKQUOTED   # the id\naws_secret_access_key = se#cret\n",
        ),
    ],
    [
      "[profile default] in the config file",
      () =>
        environment(
          {},
          "[profile default]\nregion = ca-central-1\n",
          "[default]\n# aws_access_key_id = AKCOMMENTED\naws_access_key_id = AKDEF\naws_secret_access_key = def\n",
        ),
    ],
  );
  for (const [name, env] of cases) {
    it(`resolves as the SDK does: ${name}`, async () => {
      const vars = await env();
      const sdk = await sdkResolves(vars);
      const light = await plainS3Settings("bucket", vars);
      assert.ok(light, "the light client's");
      assert.deepEqual({ region: light.region, key: light.key }, sdk);
    });
  }

  const declined: [string, () => Promise<NodeJS.ProcessEnv>][] = [
    [
      "a profile that assumes a role",
      () =>
        environment(
          { AWS_PROFILE: "admin", AWS_REGION: "eu-west-1" },
          "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = default\n",
          "[default]\naws_access_key_id = AK\naws_secret_access_key = s\n",
        ),
    ],
    ["a credential process", () => environment({ AWS_REGION: "eu-west-1" }, "[default]\ncredential_process = /bin/echo {}\n")],
    ["SSO", () => environment({ AWS_REGION: "eu-west-1" }, "[default]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n")],
    [
      "an S3 sub-section in the profile",
      () =>
        environment(
          { AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: "eu-west-1" },
          "[default]\ns3 =\n  addressing_style = path\n",
        ),
    ],
    [
      "an endpoint in the profile",
      () =>
        environment(
          { AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: "eu-west-1" },
          "[default]\nendpoint_url = http://127.0.0.1:9000\n",
        ),
    ],
    [
      "FIPS endpoints",
      () => environment({ AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: "us-east-1", AWS_USE_FIPS_ENDPOINT: "true" }),
    ],
    ["no key anywhere (the instance's or the container's)", () => environment({ AWS_REGION: "eu-west-1" })],
    ["no region anywhere (the SDK says so)", () => environment({ AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "s" })],
    [
      "a web identity",
      () => environment({ AWS_REGION: "eu-west-1", AWS_ROLE_ARN: "arn:aws:iam::1:role/r", AWS_WEB_IDENTITY_TOKEN_FILE: "/t" }),
    ],
    [
      "a region of a partition it does not address",
      () => environment({ AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: "us-iso-east-1" }),
    ],
  ];
  for (const [name, env] of declined) {
    it(`leaves to the SDK: ${name}`, async () => {
      assert.equal(await plainS3Settings("bucket", await env()), undefined);
    });
  }

  it("addresses S3 where the SDK does: the region's endpoint, virtual-hosted unless the bucket cannot be a host name", async () => {
    for (const region of ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"]) {
      for (const bucket of ["my-bucket", "my.dotted.bucket", "Legacy_Bucket"]) {
        const light = await plainS3Settings(bucket, { HOME: dir, AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: region });
        assert.ok(light);
        const seen: { hostname?: string; path?: string } = {};
        const client = new S3Client({
          region,
          credentials: { accessKeyId: "AK", secretAccessKey: "s" },
          requestHandler: {
            handle: async (request: { hostname: string; path: string }) => {
              Object.assign(seen, { hostname: request.hostname, path: request.path });
              throw new Error("captured");
            },
          },
        });
        await assert.rejects(client.send(new GetObjectCommand({ Bucket: bucket, Key: "k" })), /captured/);
        client.destroy();
        const path = light.pathStyle ? `/${bucket}/k` : "/k";
        assert.deepEqual({ hostname: light.endpoint.hostname, path }, seen, `${bucket} in ${region}`);
      }
    }
  });

  it("takes a configured endpoint as createS3Client does: path-style, AWS_ENDPOINT_URL_S3 first", async () => {
    const settings = await plainS3Settings("cloudbridge", {
      HOME: dir,
      AWS_ACCESS_KEY_ID: "AK",
      AWS_SECRET_ACCESS_KEY: "s",
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: "http://127.0.0.1:1",
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4566",
      AWS_MAX_ATTEMPTS: "3",
    });
    assert.equal(settings?.endpoint.origin, "http://127.0.0.1:4566");
    assert.equal(settings?.pathStyle, true);
    assert.equal(settings?.maxAttempts, 3);
  });

  const repositoryCases: [string, BucketAccess, () => Promise<NodeJS.ProcessEnv>][] = [
    [
      "the repository's profile over AWS_PROFILE and the environment's key, its endpoint over AWS_ENDPOINT_URL",
      { profile: "cloudbridge-stack-folder", endpoint: "http://127.0.0.1:4566" },
      () =>
        environment(
          { AWS_PROFILE: "person", AWS_ACCESS_KEY_ID: "AKENV", AWS_SECRET_ACCESS_KEY: "env", AWS_ENDPOINT_URL: "http://127.0.0.1:1" },
          "[profile person]\nregion = eu-west-3\n",
          "[person]\naws_access_key_id = AKPERSON\naws_secret_access_key = person\n[cloudbridge-stack-folder]\naws_access_key_id = AKFOLDER\naws_secret_access_key = folder\n",
        ),
    ],
    [
      "the repository's region over AWS_REGION",
      { region: "ap-northeast-1" },
      () => environment({ AWS_ACCESS_KEY_ID: "AKENV", AWS_SECRET_ACCESS_KEY: "env", AWS_REGION: "eu-west-1" }),
    ],
    [
      "a loopback endpoint and no credentials named: the local cloud's key, us-east-1",
      { endpoint: "http://127.0.0.1:4566" },
      () => environment({}),
    ],
  ];
  for (const [name, access, env] of repositoryCases) {
    it(`applies the repository's settings as the agent's SDK clients do: ${name}`, async () => {
      const vars = await env();
      const sdk = await sdkResolves(vars, access);
      const light = await plainS3Settings("bucket", vars, access);
      assert.ok(light, "the light client's");
      assert.deepEqual({ region: light.region, key: light.key }, sdk);
      if (access.endpoint) assert.equal(light.endpoint.origin, access.endpoint);
    });
  }

  it("refuses a malformed endpoint, the repository's or the environment's, naming where it came from, before any request", async () => {
    const vars = await environment({ AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: "eu-west-1" });
    const config = new Map([["cloudbridge.endpoint", ["http//127.0.0.1:4566"]]]);
    assert.throws(
      () => bucketAccessFrom(config),
      /The endpoint "http\/\/127\.0\.0\.1:4566" in cloudbridge\.endpoint \(git config cloudbridge\.endpoint URL\) is not valid/,
    );
    for (const name of ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]) {
      const env = { ...vars, [name]: "localhost:4566" };
      await assert.rejects(plainS3Settings("bucket", env), new RegExp(`"localhost:4566" in the environment's ${name} is not valid`));
      assert.throws(
        () => awsClientConfig({}, env),
        new RegExp(`in the environment's ${name}`),
        "the SDK's client is not made with it either",
      );
    }
  });

  it("refuses a repository profile with no key, saying what to do, rather than sign with another key", async () => {
    const vars = await environment(
      { AWS_ACCESS_KEY_ID: "AKENV", AWS_SECRET_ACCESS_KEY: "env", AWS_REGION: "eu-west-1" },
      "[profile gone]\nregion = eu-west-1\n",
      "[gone-not]\naws_access_key_id = AK\naws_secret_access_key = s\n",
    );
    await assert.rejects(plainS3Settings("bucket", vars, { profile: "gone" }), (error: Error) =>
      /The profile gone \(cloudbridge\.profile[^)]*\) has no access key in .*credentials-\d+: .*git config cloudbridge\.profile NAME/.test(
        error.message,
      ),
    );
  });
});
