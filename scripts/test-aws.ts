/**
 * `npm run test:aws`: the end-to-end tests against a stack deployed in a real AWS account (test/aws/).
 * Opt-in and never part of `npm test`: they need a deployed stack, administrator credentials for it, and
 * they cost a few cents of requests. Without a stack named, this says how to name one and exits 0.
 *
 *   npx cdk deploy --outputs-file cdk-outputs.json
 *   CLOUDBRIDGE_TEST_STACK=cloudbridge npm run test:aws
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

const stack = process.env.CLOUDBRIDGE_TEST_STACK;
const outputs = resolve(process.env.CLOUDBRIDGE_TEST_OUTPUTS ?? "cdk-outputs.json");
if (!stack) {
  process.stdout.write(
    "test:aws: skipped — no stack named. These tests run against a deployed stack:\n" +
      "  npx cdk deploy --outputs-file cdk-outputs.json\n" +
      "  CLOUDBRIDGE_TEST_STACK=<stack name> npm run test:aws\n" +
      'with the administrator\'s AWS credentials in the environment (docs/deploy.md, "Test the deployment").\n',
  );
  process.exit(0);
}
if (!existsSync(outputs)) {
  process.stderr.write(
    `test:aws: ${outputs} does not exist: deploy with \`npx cdk deploy --outputs-file cdk-outputs.json\`, ` +
      "or name the file with CLOUDBRIDGE_TEST_OUTPUTS.\n",
  );
  process.exit(2);
}
const result = spawnSync(
  process.execPath,
  ["--disable-warning=ExperimentalWarning", "--test", "--test-concurrency=1", "--test-timeout=600000", "test/aws/**/*.test.ts"],
  { stdio: "inherit", env: { ...process.env, CLOUDBRIDGE_TEST_STACK: stack, CLOUDBRIDGE_TEST_OUTPUTS: outputs } },
);
process.exit(result.status ?? 1);
