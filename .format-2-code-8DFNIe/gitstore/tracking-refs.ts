import { assertRefName } from "../protocol/index.ts";

/**
 * Where refs from the bucket are kept locally, as git keeps a remote's branches:
 * `refs/heads/main` → `refs/remotes/<remote>/main`; other shared refs keep their full name under
 * `refs/remotes/<remote>/`; agent A's synced refs go under `refs/remotes/<remote>-synced/<A>/`.
 */
export function trackingRefName(remote: string, ref: string, agent?: string): string {
  const base = agent ? `refs/remotes/${remote}-synced/${agent}/` : `refs/remotes/${remote}/`;
  const rest = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
  return assertRefName(base + rest);
}

export function trackingRefPrefixes(remote: string): string[] {
  return [`refs/remotes/${remote}/`, `refs/remotes/${remote}-synced/`];
}
