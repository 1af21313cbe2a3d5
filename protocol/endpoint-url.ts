import { ProtocolError, quote } from "./errors.ts";
import { serviceUrlProblem } from "./service-url.ts";

/**
 * An S3-compatible endpoint as a setting names it (`cloudbridge.endpoint`, `--endpoint`, AWS_ENDPOINT_URL):
 * `http(s)://host[:port][/path]`. Checked where it is read, before any request, so that a typo is said
 * with the setting's name and what to write, not as the SDK's "Invalid URL" or a connection to the wrong place.
 * A user name or password in it is refused (keys go in a profile) and never repeated in the message.
 *
 * `setting`: where the value came from, and how to change it (e.g. "cloudbridge.endpoint (git config cloudbridge.endpoint URL)").
 */
export function assertEndpointUrl(value: string, setting: string): string {
  const problem = serviceUrlProblem(value, {
    schemes: ["http:", "https:"],
    credentialsHint: "an access key belongs in a profile: cloudbridge.profile or AWS_PROFILE",
  });
  if (problem === undefined) return value;
  throw new ProtocolError(
    "invalid-endpoint",
    `The endpoint ${quote(problem.shown)} in ${setting} is not valid: ${problem.why}. Write it as http://HOST:PORT or https://HOST[:PORT][/PATH] ` +
      `(e.g. http://127.0.0.1:4566 for \`cloudbridge local\`), or leave it unset for AWS.`,
  );
}
