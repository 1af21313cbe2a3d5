import type { FauxqsParts } from "./fauxqs-internals.ts";

/**
 * Starts the emulator listening on 127.0.0.1 only (port 0 picks a free one): a cloud on one machine is
 * never a service on the network. Returns the port and the endpoint clients are given.
 */
export async function listenOnLoopback(parts: FauxqsParts, port: number | undefined): Promise<{ port: number; endpoint: string }> {
  await parts.app.listen({ host: "127.0.0.1", port: port ?? 0 });
  const address = parts.app.server.address();
  const bound = typeof address === "object" && address ? address.port : Number(port);
  return { port: bound, endpoint: `http://127.0.0.1:${bound}` };
}
