import { LocalCloudError } from "../errors.ts";

/**
 * The answers real S3 gives now and then, on demand: `409 ConditionalRequestConflict` to a conditional
 * write (PUT, Complete or DELETE with If-Match / If-None-Match) and `503 SlowDown` to any S3 request, each
 * at its own rate. A 409 to CompleteMultipartUpload ends the upload, as on AWS (the caller must start a new
 * one). Nothing is written when a fault is answered.
 */
export interface FaultRates {
  /** Share (0..1) of conditional writes answered 409 ConditionalRequestConflict. */
  conflict?: number;
  /** Share (0..1) of S3 requests answered 503 SlowDown. */
  slowDown?: number;
}

export interface Fault {
  status: number;
  code: string;
  message: string;
}

export interface FaultCounts {
  conflict: number;
  slowDown: number;
}

/** Parses `conflict=0.05,slowdown=0.05` (the `--faults` option). */
export function parseFaultRates(text: string): FaultRates {
  const rates: FaultRates = {};
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, value] = part.split("=");
    const rate = Number(value);
    if (!(rate >= 0 && rate <= 1))
      throw new LocalCloudError("local-invalid-option", `--faults ${JSON.stringify(part)}: the rate must be a number from 0 to 1.`);
    if (name === "conflict") rates.conflict = rate;
    else if (name === "slowdown") rates.slowDown = rate;
    else
      throw new LocalCloudError(
        "local-invalid-option",
        `--faults ${JSON.stringify(part)}: the faults are conflict=<rate> and slowdown=<rate>.`,
      );
  }
  return rates;
}

export function faultFor(
  request: { method: string; isS3Object: boolean; headers: Record<string, string | string[] | undefined> },
  rates: FaultRates,
  counts: FaultCounts,
  random: () => number = Math.random,
): Fault | undefined {
  if (rates.slowDown && random() < rates.slowDown) {
    counts.slowDown += 1;
    return { status: 503, code: "SlowDown", message: "Please reduce your request rate." };
  }
  const conditional = request.headers["if-match"] !== undefined || request.headers["if-none-match"] !== undefined;
  const writes = request.method === "PUT" || request.method === "POST" || request.method === "DELETE";
  if (rates.conflict && request.isS3Object && writes && conditional && random() < rates.conflict) {
    counts.conflict += 1;
    return {
      status: 409,
      code: "ConditionalRequestConflict",
      message: "A conflicting conditional operation is currently in progress against this resource. Try again.",
    };
  }
  return undefined;
}
