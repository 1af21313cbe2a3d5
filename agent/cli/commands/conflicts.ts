import { findFolder } from "../../folder/index.ts";
import { listConflicts, resolveConflict, type Conflict, type ConflictSide } from "../../history/conflicts.ts";
import { forTerminal } from "../../terminal-text.ts";
import { CliError } from "../errors.ts";
import { locate, openQuietly, syncChanged, typedPath } from "../folder-path.ts";
import { emit } from "../output.ts";

export async function conflictsCommand(
  dir: string | undefined,
  options: { keep?: string; keepBoth?: string; json?: boolean },
): Promise<void> {
  if (options.keep && options.keepBoth) throw new CliError("invalid-option", "use --keep or --keep-both, not both.");
  const file = options.keep ?? options.keepBoth;
  if (file) {
    const { root, path } = await locate(file);
    const folder = await openQuietly(root);
    try {
      const { conflict, changed } = await resolveConflict(folder.repo, path, options.keep ? "keep-this" : "keep-both");
      const synced = await syncChanged(folder, changed);
      emit(options.json, { resolved: conflict, kept: options.keep ? path : "both", changed, synced }, () =>
        [
          options.keep
            ? `kept ${forTerminal(path)} as ${forTerminal(conflict.path)}; the other version is in history (\`cloudbridge versions ${typedPath(root, conflict.path)}\`).`
            : `kept both: ${forTerminal(conflict.path)} and ${forTerminal(changed[1]!)}.`,
          synced === "paused" ? "the folder is paused: the change is synced at `cloudbridge resume`." : "synced.",
        ].join("\n"),
      );
    } finally {
      folder.close();
    }
    return;
  }
  const root = await findFolder(dir);
  const folder = await openQuietly(root);
  try {
    const conflicts = await listConflicts(folder.repo.git);
    emit(options.json, conflicts, () =>
      conflicts.length === 0 ? "no conflicts" : conflicts.map((c) => describeConflict(root, c)).join("\n"),
    );
  } finally {
    folder.close();
  }
}

function describeConflict(root: string, conflict: Conflict): string {
  const side = (s: ConflictSide) =>
    `    ${forTerminal(s.path)}  ${[s.author, s.date]
      .filter(Boolean)
      .map((t) => forTerminal(t!))
      .join(", ")}`;
  return [
    `${forTerminal(conflict.path)}: two versions`,
    side(conflict.sides[0]),
    side(conflict.sides[1]),
    `  resolve: cloudbridge conflicts --keep ${typedPath(root, conflict.path)} | --keep ${typedPath(root, conflict.variant)} | --keep-both ${typedPath(root, conflict.path)}`,
  ].join("\n");
}
