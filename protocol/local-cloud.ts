/**
 * The cloud on one machine (`cloudbridge local`) checks no signatures and prints these well-known, public
 * credentials for the SDK: an agent whose folder names a loopback endpoint uses them when its environment
 * names no credentials of its own, so any shell can run `cloudbridge status` on a demo folder.
 */
export const LOCAL_CLOUD_CREDENTIALS = { accessKeyId: "cloudbridge-local", secretAccessKey: "cloudbridge-local-secret" } as const;

/** Whether an endpoint URL names this machine (the local cloud listens on loopback only). */
export function isLoopbackEndpoint(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, "");
    return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}
