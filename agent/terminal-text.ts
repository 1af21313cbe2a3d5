/**
 * Text from the bucket or from another machine (presence records, commit authors and subjects, file
 * names, annex descriptions) reaches a person's terminal only through `forTerminal`: a terminal obeys
 * escape sequences (colours, cursor moves, window titles, clipboard writes through OSC 52), a newline or
 * carriage return can forge a whole line of output, and bidirectional overrides can show a name other
 * than the one it is. Each such character is shown as a visible escape instead (`\x1b`, `\u202e`), so
 * the text stays readable and nothing in it can act on the terminal. `--json` output is not
 * passed through here: JSON escapes what it must and stays faithful.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must not reach a terminal
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- the same, minus the line breaks and tabs of a multi-line message
const UNSAFE_KEEP_LINES = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function visible(char: string): string {
  const code = char.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** One line of text safe to print: every control, line-breaking or direction-changing character made visible. */
export function forTerminal(text: unknown): string {
  return String(text ?? "").replace(UNSAFE, visible);
}

/**
 * A message of several lines (an error a person reads): line breaks and tabs kept, every other control
 * or direction-changing character made visible. Only for text whose lines are ours to break.
 */
export function forTerminalLines(text: string): string {
  return text.replace(UNSAFE_KEEP_LINES, visible);
}

/**
 * A path or other word inside a command we print for a person to paste into a shell (`cloudbridge restore
 * …`): as it is when the shell reads it as one word, else in single quotes (a name with a space or a quote
 * is a person's everyday name, and pasted bare it would be two arguments or an open quote). Made safe for
 * the terminal first: a name with a control character cannot be pasted whole, but must not act on the
 * terminal either. A word starting with `-` is given a `./` so it is not read as an option.
 */
export function forShell(word: string): string {
  const shown = forTerminal(word.startsWith("-") ? `./${word}` : word);
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, "'\\''")}'`;
}
