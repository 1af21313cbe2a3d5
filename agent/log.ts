/**
 * The agent's log: one JSON object per line when stderr is not a terminal (a service, a pipe: machines
 * read it), a short human line otherwise. Secrets never reach it: fields named like credentials are
 * replaced before anything is written.
 */
import { forTerminal } from "./terminal-text.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type Logger = (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;

const SECRET = /pass(word)?|secret|token|credential|authorization/i;
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(
  options: { json?: boolean; level?: LogLevel; write?: (line: string) => void; component?: string } = {},
): Logger {
  const json = options.json ?? !process.stderr.isTTY;
  const min = ORDER[options.level ?? (process.env.CLOUDBRIDGE_LOG_LEVEL as LogLevel | undefined) ?? "info"] ?? 20;
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  return (level, event, fields = {}) => {
    if (ORDER[level] < min) return;
    const safe: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(fields)) safe[name] = SECRET.test(name) ? "[redacted]" : value;
    if (json) {
      write(
        JSON.stringify({
          time: new Date().toISOString(),
          level,
          ...(options.component ? { component: options.component } : {}),
          event,
          ...safe,
        }),
      );
      return;
    }
    const message = typeof safe.message === "string" ? safe.message : "";
    delete safe.message;
    const rest = Object.entries(safe)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    // One line a person reads: names and messages from the bucket must not act on the terminal.
    write(
      forTerminal(
        `${new Date().toTimeString().slice(0, 8)} ${level === "info" ? "" : `${level.toUpperCase()} `}${event}${message ? `: ${message}` : ""}${rest ? ` ${rest}` : ""}`,
      ),
    );
  };
}
