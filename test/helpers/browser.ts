import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";

/**
 * Headless Chromium from Debian's `chromium` package (.ci/run installs it), driven by playwright-core: no
 * browser download, the machine's own build.
 */
export const CHROMIUM = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find((path) => existsSync(path)) ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  // As root (CI) Chromium refuses to start with its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
}

/** Where a test run leaves what a person may want to look at afterwards (screenshots); never in the repository. */
export async function testOutputDir(name: string): Promise<string> {
  const dir = join(process.env.CLOUDBRIDGE_TEST_OUTPUT ?? join(tmpdir(), "cloudbridge-test-output"), name);
  await mkdir(dir, { recursive: true });
  return dir;
}
