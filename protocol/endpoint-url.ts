import { ProtocolError, quote } from "./errors.ts";

/**
 * An S3-compatible endpoint as a setting names it (`cloudbridge.endpoint`, `--endpoint`, AWS_ENDPOINT_URL):
 * `http(s)://host[:port][/path]`. Checked where it is read, before any request, so that a typo is said
 * with the setting's name and what to write, not as the SDK's "Invalid URL" or a connection to the wrong place.
 * A user name or password in it is refused (keys go in a profile) and never repeated in the message.
 *
 * `setting`: where the value came from, and how to change it (e.g. "cloudbridge.endpoint (git config cloudbridge.endpoint URL)").
 */
export function assertEndpointUrl(value: string, setting: string): string {
  const fail = (why: string, shown = value): never => {
    throw new ProtocolError(
      "invalid-endpoint",
      `The endpoint ${quote(shown)} in ${setting} is not valid: ${why}. Write it as http://HOST:PORT or https://HOST[:PORT][/PATH] ` +
        `(e.g. http://127.0.0.1:4566 for \`cloudbridge local\`), or leave it unset for AWS.`,
    );
  };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? "it is not a URL" : "it does not start with http:// or https://");
  }
  if (url.username || url.password) {
    url.username = "";
    url.password = "";
    return fail("it holds a user name or password (an access key belongs in a profile: cloudbridge.profile or AWS_PROFILE)", url.href);
  }
  if (value !== value.trim()) fail("it has spaces around it");
  if (url.protocol !== "http:" && url.protocol !== "https:") fail("it does not start with http:// or https://");
  if (!url.hostname) fail("it names no host");
  if (url.search || value.includes("?")) fail("it has a query (?…)");
  if (url.hash || value.includes("#")) fail("it has a fragment (#…)");
  return value;
}
