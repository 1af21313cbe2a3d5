/**
 * The base of every error cloudbridge throws on purpose: `code` is for programs (the CLI maps codes to exit
 * codes), `message` says what was wrong and what to do, for people.
 */
export class CloudbridgeError<Code extends string = string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The one error type the protocol throws. `code` says what kind of input was wrong (for programs),
 * `message` says what was wrong and what to do (for people); `input` is the offending value, cut short.
 */

export type ProtocolErrorCode =
  | "invalid-prefix"
  | "invalid-repo-name"
  | "invalid-agent-id"
  | "invalid-ref-name"
  | "invalid-annex-key"
  | "invalid-pack-name"
  | "invalid-key"
  | "invalid-message"
  | "invalid-event"
  | "invalid-jid"
  | "invalid-remote-url"
  | "invalid-endpoint"
  | "missing-stack-output"
  | "invalid-function-environment";

export class ProtocolError extends CloudbridgeError<ProtocolErrorCode> {
  readonly input: string | undefined;

  constructor(code: ProtocolErrorCode, message: string, input?: unknown) {
    super(code, message);
    this.input = input === undefined ? undefined : abbreviate(input);
  }
}

function abbreviate(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Shows a value inside an error message without letting control characters or huge input through. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value);
}
