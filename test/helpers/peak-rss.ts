import { appendFileSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Preloaded into a CLI child (`NODE_OPTIONS=--import=…`): when the process exits, its peak resident
 * memory (VmHWM, which counts Buffers and everything else outside the JS heap) is appended to the file
 * named by CLOUDBRIDGE_TEST_PEAK_RSS, in KiB.
 */
const out = process.env.CLOUDBRIDGE_TEST_PEAK_RSS;
if (out) {
  process.on("exit", () => {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (match) appendFileSync(out, `${match[1]}\n`);
  });
}

/** The environment that makes a child report its peak memory into `file`. */
export function peakRssEnv(file: string): Record<string, string> {
  return { NODE_OPTIONS: `--import=${fileURLToPath(import.meta.url)}`, CLOUDBRIDGE_TEST_PEAK_RSS: file };
}
