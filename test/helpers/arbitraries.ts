import assert from "node:assert/strict";
import fc from "fast-check";

/**
 * Generators for property tests of the formats: valid values of every name the protocol knows, and hostile
 * variants of any text (control characters, newlines inside fields, lone surrogates, truncations, huge runs).
 */

const hex = (length: number) => fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length });

export const objectId = hex(40);
export const sha256Hex = hex(64);

export const agentId = fc.uuid({ version: 4 }).map((uuid) => uuid.toLowerCase());

const alnum = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

export const repoName = fc
  .tuple(alnum, fc.string({ unit: fc.constantFrom(..."abcXYZ019._+-"), maxLength: 30 }))
  .map(([first, rest]) => first + rest)
  .filter((name) => !name.includes("..") && !name.endsWith(".") && !name.endsWith(".git"));

/** A ref-name component by git's check-ref-format rules (including non-ASCII, which git allows). */
const refComponent = fc
  .string({ unit: fc.constantFrom(..."abcz09-_.@éü日"), minLength: 1, maxLength: 12 })
  .filter((c) => !c.startsWith(".") && !c.endsWith(".") && !c.endsWith(".lock") && !c.includes("..") && !c.includes("@{"));

export const refName = fc.array(refComponent, { minLength: 1, maxLength: 4 }).map((parts) => `refs/${parts.join("/")}`);

export const prefix = fc.oneof(
  fc.constant(""),
  fc.array(repoName, { minLength: 1, maxLength: 3 }).map((parts) => `${parts.join("/")}/`),
);

export const packBaseName = objectId.map((oid) => `pack-${oid}`);

/** An extension as the E backends keep it: up to two parts of letters and digits, each at most 4 bytes. */
const extension = fc
  .array(fc.string({ unit: alnum, minLength: 1, maxLength: 4 }), { maxLength: 2 })
  .map((parts) => parts.map((p) => `.${p}`).join(""));

const size = fc.oneof(fc.nat({ max: 1 << 30 }), fc.maxSafeNat());

export const annexKeyFields = fc.record({
  backend: fc.constant("SHA256E"),
  size: fc.option(size, { nil: undefined }),
  mtime: fc.option(fc.nat(), { nil: undefined }),
  chunkSize: fc.option(fc.integer({ min: 1, max: 1 << 30 }), { nil: undefined }),
  chunk: fc.option(fc.integer({ min: 1, max: 100000 }), { nil: undefined }),
  name: fc.tuple(sha256Hex, extension).map(([h, e]) => h + e),
});

/** A WORM/URL-style key (no hash): any name without "/" or control characters. */
export const otherKeyFields = fc.record({
  backend: fc.constantFrom("WORM", "URL", "SHA1E", "MD5"),
  size: fc.option(size, { nil: undefined }),
  mtime: fc.option(fc.nat(), { nil: undefined }),
  chunkSize: fc.constant(undefined),
  chunk: fc.constant(undefined),
  name: fc.string({ unit: fc.constantFrom(..."abc XYZ.-_+é日%"), minLength: 1, maxLength: 40 }).filter((n) => n !== "." && n !== ".."),
});

/** Characters that have broken parsers before: separators, line ends, terminal escapes, invalid UTF-16. */
export const NASTY = [
  "\n",
  "\r",
  "\r\n",
  "\0",
  "\t",
  " ",
  "\x1b[31m",
  "\x7f",
  "\u0085",
  "\u2028",
  "\uFEFF",
  "\uD800",
  "\uDFFF",
  "\uFFFD",
  "/",
  "..",
  "\\",
  "%",
  "+",
  "=",
  ":",
  "@{",
  "~",
  "--",
  "\u00e9",
];

/** `valid` with one hostile edit: a nasty character inserted or substituted, a truncation, or a long run. */
export function hostile(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    fc.tuple(valid, fc.nat(), fc.constantFrom(...NASTY)).map(([text, at, nasty]) => {
      const i = at % (text.length + 1);
      return text.slice(0, i) + nasty + text.slice(i);
    }),
    fc.tuple(valid, fc.nat(), fc.constantFrom(...NASTY)).map(([text, at, nasty]) => {
      const i = at % (text.length + 1);
      return text.slice(0, i) + nasty + text.slice(i + 1);
    }),
    fc.tuple(valid, fc.nat()).map(([text, at]) => text.slice(0, at % (text.length + 1))),
    fc
      .tuple(valid, fc.constantFrom("a", "0", "/", "\n", "-"), fc.integer({ min: 1000, max: 100_000 }))
      .map(([text, c, n]) => text + c.repeat(n)),
    fc.string({ unit: "binary", maxLength: 200 }),
  );
}

/** Random bytes, and valid bytes cut short or with bytes flipped. */
export function hostileBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.tuple(valid, fc.nat()).map(([bytes, at]) => Buffer.from(bytes.subarray(0, at % (bytes.length + 1)))),
    fc.tuple(valid, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([bytes, at, xor]) => {
      const copy = Buffer.from(bytes);
      if (copy.length > 0) copy[at % copy.length]! ^= xor;
      return copy;
    }),
    fc.tuple(valid, fc.nat(), fc.constantFrom(0x0a, 0x00, 0x20, 0xff, 0xc3, 0x0d)).map(([bytes, at, byte]) => {
      const i = at % (bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
    }),
  );
}

/**
 * Runs `parse` and passes when it returns or throws an instance of `errorClass` (with a `code` in `codes`
 * when given). Any other throw (TypeError, RangeError, URIError...) is a crash and fails the property.
 */
export function returnsOrThrowsTyped<T>(
  parse: () => T,
  errorClass: abstract new (...args: never[]) => Error & { code: string },
  codes?: readonly string[],
): T | undefined {
  try {
    return parse();
  } catch (error) {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    if (codes) assert.ok(codes.includes(error.code), `unexpected code ${error.code}`);
    assert.ok(error.message.length > 0 && error.message.length < 2000, "the message says what was wrong, briefly");
    return undefined;
  }
}

/** fast-check's options for these tests: enough runs to matter (PROPERTY_RUNS raises it); a failure prints its seed. */
export const runs = { numRuns: Number(process.env.PROPERTY_RUNS ?? 300) };

export { fc };
