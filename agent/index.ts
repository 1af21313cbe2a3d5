/**
 * agent/: the `cloudbridge` CLI and the daemon. Nothing imports the agent; its programs are
 * agent/cli/main.ts (bin/cloudbridge) and the remote helper. This face is what tests and scripts may
 * drive in process.
 */
export { buildProgram, main } from "./cli/main.ts";
export { exitCodeFor } from "./cli/errors.ts";
