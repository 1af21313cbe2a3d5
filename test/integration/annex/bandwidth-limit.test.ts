import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { useAgentPair } from "../../helpers/test-bed.ts";
import { downloadKey } from "../../../annex/transfer/download.ts";
import { uploadKey } from "../../../annex/transfer/upload.ts";

/**
 * The bandwidth limit (cloudbridge.uploadLimit / downloadLimit, the Annex's limiters) as transfers honour
 * it: a 50 MiB upload (multipart, four parts in flight) and a 50 MiB download (ranged GETs in parallel) at
 * 5 MB/s, against the local cloud, which without the limit moves the same bytes in about a second. Timed is
 * the transfer itself, not the location-log commit and push after it. What the limit promises is the lower
 * bound (never more than 10 % faster than the rate); the upper bound only catches a limiter that waits far
 * too long (half as long again), so that a loaded machine's slowness is not taken for a fault.
 */
const RATE = 5_000_000;
const SIZE = 50 * 1024 * 1024;
const EXPECTED_S = SIZE / RATE; // 10.49 s

function assertPaced(seconds: number): void {
  assert.ok(seconds >= EXPECTED_S * 0.9, `took ${seconds.toFixed(2)} s: faster than the limit allows (${EXPECTED_S.toFixed(2)} s)`);
  assert.ok(seconds <= EXPECTED_S * 1.5, `took ${seconds.toFixed(2)} s: far slower than the limit asks (${EXPECTED_S.toFixed(2)} s)`);
}

describe("bandwidth limit", () => {
  const pair = useAgentPair("limited");
  let key: string;

  before(async () => {
    writeFileSync(join(pair.a.dir, "video.bin"), randomBytes(SIZE));
    key = await pair.a.annex.add(join(pair.a.dir, "video.bin"));
  });

  it("an upload limited to 5 MB/s takes 50 MiB / 5 MB/s, not less", async () => {
    pair.a.annex.limits.up.setRate(RATE);
    const started = performance.now();
    const { a } = pair;
    const result = await uploadKey(a.annex.local, a.annex.cloud, key, { fileName: "video.bin", limiter: a.annex.limits.up });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(result.uploaded, true);
    process.stderr.write(`# upload of 50 MiB at 5 MB/s: ${seconds.toFixed(2)} s (${(SIZE / seconds / 1e6).toFixed(2)} MB/s)\n`);
    assertPaced(seconds);
  });

  it("a download limited to 5 MB/s takes 50 MiB / 5 MB/s, not less", async () => {
    const { b } = pair;
    b.annex.limits.down.setRate(RATE);
    const started = performance.now();
    const result = await downloadKey(b.annex.local, b.annex.cloud, key, { limiter: b.annex.limits.down });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(result.downloaded, true);
    process.stderr.write(`# download of 50 MiB at 5 MB/s: ${seconds.toFixed(2)} s (${(SIZE / seconds / 1e6).toFixed(2)} MB/s)\n`);
    assertPaced(seconds);
  });
});
