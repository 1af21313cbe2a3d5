import { z } from "zod";

/**
 * The two bridges between zod and the protocol's own checks, so schemas everywhere (change messages, the
 * stack's configuration, function environments, secrets, folder settings) reuse the `assert*` rules
 * instead of restating them, and report problems in one shape.
 */

/**
 * A schema built when first used, not as its module loads: most processes that load the protocol never
 * parse most of its schemas (a no-op `cloudbridge sync` parses none of them, and building them was ~10 ms
 * of its start-up), while a process that does parses with the one schema built then.
 */
export function builtOnFirstUse<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}

/** A string schema that accepts exactly what `assert` accepts (the protocol's asserts throw on bad input). */
export function checkedString(assert: (value: string) => unknown, message: string) {
  return z.string().refine((value) => {
    try {
      assert(value);
      return true;
    } catch {
      return false;
    }
  }, message);
}

/**
 * A failed parse as one line a person can act on: each problem as "<where><between><what>", joined by
 * "; ". `where` is the issue's path joined by "." (or `root` when the value itself is wrong).
 */
export function describeIssues(error: z.ZodError, root = "(value)", between = " "): string {
  return error.issues.map((issue) => `${issue.path.map(String).join(".") || root}${between}${issue.message}`).join("; ");
}
