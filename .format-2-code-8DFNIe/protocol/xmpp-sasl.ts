/**
 * Which SASL mechanism an XMPP client of cloudbridge (the XMPP function, the agent's listener) logs in
 * with, given what the server offers.
 */
const LOOPBACK = new Set(["127.0.0.1", "::1", "[::1]", "localhost"]);

/**
 * PLAIN when the stream is encrypted or never leaves the machine (SCRAM-SHA-1 costs 1.4–2 s of CPU in
 * JavaScript, PLAIN ~5 ms); otherwise a SCRAM mechanism, so a password never crosses a network in clear.
 * Undefined when nothing acceptable is offered.
 */
export function chooseSaslMechanism(args: { secure: boolean; host: string; offered: readonly string[] }): string | undefined {
  if ((args.secure || LOOPBACK.has(args.host)) && args.offered.includes("PLAIN")) return "PLAIN";
  // @xmpp/client 0.14 implements SCRAM-SHA-1 (and offers only what both sides implement).
  return args.offered.includes("SCRAM-SHA-1") ? "SCRAM-SHA-1" : undefined;
}
