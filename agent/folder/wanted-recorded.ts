import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { recordWanted, type AnnexBranch, type WantedExpression } from "../../annex/index.ts";
import { writeFileAtomic } from "../sync/atomic-file.ts";

/**
 * What this machine wants, recorded in the git-annex branch's preferred-content.log (annex's recordWanted)
 * at every open of the folder, without reading the log again while the branch has not moved since it last
 * said so: reading it is a `git cat-file` (~4 ms) of every command's start, and a commit of the branch
 * holds one tree, so the log at the commit noted then says what it said. The note (`wanted-recorded` in the
 * folder's state directory: the commit, this machine's id and what it wants) is a shortcut only: missing,
 * damaged or naming another commit, the log is read and the note written again.
 */
export async function recordWantedOnce(branch: AnnexBranch, stateDir: string, uuid: string, expression: WantedExpression): Promise<void> {
  const file = join(stateDir, "wanted-recorded");
  const [head, noted] = await Promise.all([branch.head(), readFile(file, "utf8").catch(() => undefined)]);
  if (head !== undefined && noted === noteOf(head, uuid, expression)) return;
  const saying = await recordWanted(branch, uuid, expression);
  // Not worth failing the open for: the next one reads the log again.
  if (saying !== undefined) await writeFileAtomic(file, noteOf(saying, uuid, expression)).catch(() => undefined);
}

function noteOf(head: string, uuid: string, expression: WantedExpression): string {
  return `${head} ${uuid} ${expression}\n`;
}
