/**
 * What is wrong with a URL a setting names for a service (the S3 endpoint, the agent's queue, the XMPP
 * server), said as a reason a message can carry ("it names no host"), or undefined when it is fine. One
 * checker, so that every URL setting refuses the same mistakes with the same words; each caller frames the
 * reason with its setting's name and what to write.
 */
export interface ServiceUrlRule {
  /** The schemes allowed, as `URL.protocol` gives them ("https:"), in the order the message names them. */
  schemes: readonly string[];
  /** What the path must name, for a URL that needs one (a queue's URL): "queue" says "it names no queue". */
  pathNames?: string;
  /** A query may be part of it (a WebSocket URL); otherwise refused. A fragment never reaches a server: always refused. */
  queryAllowed?: boolean;
  /** Said after the reason when the URL holds a user name or password (where the secret belongs instead). */
  credentialsHint?: string;
}

export interface ServiceUrlProblem {
  /** Why the URL is refused: "it …". */
  why: string;
  /** The URL to show in the message: as written, without its user name or password (a secret is never repeated). */
  shown: string;
}

export function serviceUrlProblem(value: string, rule: ServiceUrlRule): ServiceUrlProblem | undefined {
  const shown = withoutCredentials(value);
  const problem = (why: string): ServiceUrlProblem => ({ why, shown });
  const schemes = rule.schemes.map((scheme) => `${scheme}//`).join(" or ");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // "localhost:4566" or a bare name says a scheme is missing; "http://host:99999" is a URL gone wrong.
    return problem(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? "it is not a URL" : `it does not start with ${schemes}`);
  }
  if (url.username || url.password)
    return problem(`it holds a user name or password${rule.credentialsHint ? ` (${rule.credentialsHint})` : ""}`);
  if (value !== value.trim()) return problem("it has spaces around it");
  if (!rule.schemes.includes(url.protocol)) return problem(`it does not start with ${schemes}`);
  if (!url.hostname) return problem("it names no host");
  if (!rule.queryAllowed && (url.search || value.includes("?"))) return problem("it has a query (?…)");
  if (url.hash || value.includes("#")) return problem("it has a fragment (#…)");
  if (rule.pathNames && url.pathname.replace(/\/+$/, "") === "") return problem(`it names no ${rule.pathNames}`);
  return undefined;
}

/** The URL with anything between `//` and `@` taken out, whether or not the rest parses. */
function withoutCredentials(value: string): string {
  return value.replace(/^([^/?#]*\/\/)[^/?#]*@/, "$1");
}
