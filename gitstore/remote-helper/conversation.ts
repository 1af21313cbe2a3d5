import type { IndexReadAhead } from "../refs-index.ts";
import type { PackAhead } from "../push.ts";
import type { RepoContext } from "../repo-context.ts";
import { helperFetch, helperList, helperPush } from "./commands.ts";

/** What git asks the remote helper to do with the repository (capabilities and options aside). */
export type HelperWork = "list" | "push" | "fetch";

/**
 * Where one conversation with git takes place and whose repository it works on: the helper git started,
 * working alone (./main.ts), or the daemon serving the repository, to which that helper relays the
 * conversation (agent/remote-requests.ts).
 */
export interface HelperSession {
  /** git's lines, without their newlines. */
  lines: AsyncIterator<string>;
  /** Text for git (the helper's stdout). */
  output(text: string): void;
  /** A line for the person running git (the helper's stderr). */
  say(line: string): void;
  /** The repository the commands work on (its `log` is set here, by git's verbosity). */
  repository(): Promise<RepoContext>;
  /** The refs index's GET begun as the repository was opened, handed to the first `list` (undefined after, or when none was begun). */
  indexAhead?(): Promise<IndexReadAhead> | undefined;
  /** The pushing repository's agent id: asked as soon as `list for-push` says a push follows, awaited only when one does. */
  agent(): Promise<string>;
  /**
   * Takes a push's work left once the refs index holds it (its notes, its scratch folder, the bucket's
   * packed-refs and HEAD), for git to have its answer first; whoever takes it awaits it before the conversation's process ends. Undefined:
   * the answer waits for it.
   */
  localAfter?(pending: Promise<void>): void;
  /**
   * A push's pack begun as `list for-push` says a push follows (push.ts's beginPackAhead), while git decides
   * what to push: the helper alone has nothing else to do meanwhile. Undefined: the pack is begun by the push.
   */
  beginPack?(): PackAhead;
  /** Runs the work of one command (`commands`: how many lines its batch held); the daemon runs a push or fetch between its rounds. */
  run<T>(work: HelperWork, commands: number, run: () => Promise<T>): Promise<T>;
}

/**
 * git's remote-helper protocol (gitremote-helpers(7)) over the bucket, one conversation: capabilities
 * `fetch`, `push` and `option`; git decides fast-forwards from `list for-push`, and the push re-checks at
 * the compare-and-swap, so a push that raced another is rejected ("fetch first"), never lost. Returns
 * when git ends the conversation (a blank line, or its end); a failure is thrown, for the caller to say.
 */
export async function converse(session: HelperSession): Promise<void> {
  let verbosity = 1;
  let dryRun = false;
  let packAhead: PackAhead | undefined;
  const context = async (): Promise<RepoContext> => ({
    ...(await session.repository()),
    log: (line) => {
      if (verbosity > 1) session.say(`cloudbridge: ${line}`);
    },
  });
  const batch = async (first: string): Promise<string[]> => {
    const commands = [first];
    for (let next = await session.lines.next(); !next.done && next.value !== ""; next = await session.lines.next())
      commands.push(next.value);
    return commands;
  };
  try {
    for (let next = await session.lines.next(); !next.done; next = await session.lines.next()) {
      const line = next.value;
      if (line === "") break;
      if (line === "capabilities") session.output("fetch\npush\noption\n\n");
      else if (line.startsWith("option ")) {
        const [, name, value] = line.split(" ");
        if (name === "verbosity") verbosity = Number(value);
        if (name === "dry-run") dryRun = value === "true";
        session.output(name === "verbosity" || name === "progress" || name === "dry-run" ? "ok\n" : "unsupported\n");
      } else if (line === "list" || line === "list for-push") {
        if (line === "list for-push" && !dryRun) {
          session.agent().catch(() => {}); // awaited by the push
          if (session.beginPack && !packAhead) packAhead = session.beginPack();
        }
        const { output, stderr } = await session.run("list", 0, async () =>
          helperList(await context(), line === "list", session.indexAhead?.()),
        );
        for (const warning of stderr) session.say(warning);
        session.output(output);
      } else if (line.startsWith("fetch ")) {
        const commands = await batch(line);
        session.output(await session.run("fetch", commands.length, async () => helperFetch(await context(), commands)));
      } else if (line.startsWith("push ")) {
        const commands = await batch(line);
        session.output(
          await session.run("push", commands.length, async () =>
            helperPush(await context(), commands, dryRun, session.agent, session.localAfter?.bind(session), packAhead),
          ),
        );
      } else throw new Error(`unknown remote-helper command ${JSON.stringify(line)}`);
    }
  } finally {
    // What no push took (git found nothing to push, a dry run, a failure) ends with the conversation.
    await packAhead?.drop();
  }
}
