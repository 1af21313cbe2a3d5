import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getConfig, setConfig } from "../../localgit/index.ts";
import { writeFileAtomic } from "../sync/atomic-file.ts";

/**
 * Registers the clean filter (main.ts) in a synced folder's own `.git`, never in anything that travels:
 * `filter.cloudbridge.process` in `.git/config` names this installation's filter, and `.git/info/attributes`
 * (which outranks any `.gitattributes` in the tree) applies it to every file. Not `required`: a git that
 * cannot start it (the installation moved) keeps files as they are, and the next open registers it again.
 */
export const FILTER_DRIVER = "cloudbridge";
/** The setting naming the command git runs as the filter (lowercase, as `git config --list` names it). */
export const FILTER_PROCESS_SETTING = `filter.${FILTER_DRIVER}.process`;
const ATTRIBUTES_LINE = `* filter=${FILTER_DRIVER}`;
const FILTER_MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

/** The command git runs (through a shell): this Node and the filter's entry point, each quoted. */
export function filterProcessCommand(): string {
  return [process.execPath, "--disable-warning=ExperimentalWarning", "--max-semi-space-size=1", FILTER_MAIN]
    .map((word) => (/^[\w./=-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`))
    .join(" ");
}

/**
 * Makes sure the folder's git runs the filter: costs one `git config` read when it already does, none when
 * `registered` says what the folder's config names (read already with the folder's settings).
 */
export async function registerCleanFilter(gitDir: string, registered?: { command: string | undefined }): Promise<void> {
  const command = filterProcessCommand();
  const now = registered ? registered.command : await getConfig(gitDir, FILTER_PROCESS_SETTING);
  if (now !== command) await setConfig(gitDir, FILTER_PROCESS_SETTING, command);
  const attributes = join(gitDir, "info", "attributes");
  const present = await readFile(attributes, "utf8").catch(() => "");
  if (present.split("\n").some((line) => line.trim() === ATTRIBUTES_LINE)) return;
  await mkdir(dirname(attributes), { recursive: true });
  await writeFileAtomic(attributes, `${present}${present === "" || present.endsWith("\n") ? "" : "\n"}${ATTRIBUTES_LINE}\n`);
}
