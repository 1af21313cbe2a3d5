import { fileURLToPath } from "node:url";
import {
  credentialsNote,
  installUserUnit,
  renderLaunchdPlist,
  renderUnit,
  serviceEnv,
  uninstallUserUnit,
  type ServiceSpec,
} from "../../service/systemd.ts";
import { findFolder, readSettings } from "../../folder/index.ts";
import { emit } from "../output.ts";

/**
 * `bin/cloudbridge` by its absolute path, as a service manager needs it: the daemon starts with the same
 * Node settings as the CLI (a small young generation, the compile cache), which keep its memory down.
 */
function specFor(root: string): ServiceSpec {
  const launcher = fileURLToPath(new URL("../../../bin/cloudbridge", import.meta.url));
  return { folder: root, command: [launcher], env: serviceEnv() };
}

export async function serviceInstallCommand(dir: string | undefined, options: { start: boolean; json?: boolean }): Promise<void> {
  const root = await findFolder(dir);
  const settings = await readSettings(root);
  const result = await installUserUnit(specFor(root), { start: options.start });
  const credentials = credentialsNote(process.env, settings.profile);
  emit(options.json, { ...result, ...(credentials ? { credentials } : {}) }, () =>
    [
      `wrote ${result.unitPath}`,
      result.started ? `started ${result.name}; logs: journalctl --user -u ${result.name} -f` : result.note,
      ...(credentials ? [credentials] : []),
    ]
      .filter(Boolean)
      .join("\n"),
  );
}

export async function serviceUninstallCommand(dir: string | undefined): Promise<void> {
  const path = await uninstallUserUnit(await findFolder(dir));
  process.stdout.write(`removed ${path}\n`);
}

export async function serviceShowCommand(dir: string | undefined, options: { launchd?: boolean }): Promise<void> {
  const root = await findFolder(dir);
  await readSettings(root);
  process.stdout.write(options.launchd ? renderLaunchdPlist(specFor(root)) : renderUnit(specFor(root)));
}
