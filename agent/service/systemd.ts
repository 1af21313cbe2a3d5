import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/**
 * Running the daemon as a service: a systemd user unit (Linux) per folder, or a launchd agent (macOS,
 * documented in docs/agent.md, printed by `cloudbridge service show --launchd`). The unit restarts the
 * daemon when it fails; the daemon's state lives in the folder's .git, so a restart (or kill -9) loses
 * nothing. Only non-secret AWS settings are copied into the unit; credentials stay in the SDK's own
 * chain (~/.aws, a profile, instance roles).
 */
export interface ServiceSpec {
  folder: string;
  /** The program and arguments that start `cloudbridge daemon <folder>`. */
  command: string[];
  env: Record<string, string>;
}

const PASSED_ENV = [
  "AWS_PROFILE",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_S3",
  "AWS_ENDPOINT_URL_SQS",
  "AWS_ENDPOINT_URL_SNS",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
];

export function serviceEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_ENV) if (from[name]) env[name] = from[name]!;
  return env;
}

/**
 * Why the unit's daemon may find no key although this shell has one: keys given in the environment
 * (`AWS_ACCESS_KEY_ID`, as the README shows) are never copied into the unit, and a service started at
 * login has no shell's environment. With a profile (AWS_PROFILE, the folder's cloudbridge.profile) the
 * service reads the key where this shell does. Undefined when there is nothing to say.
 */
export function credentialsNote(from: NodeJS.ProcessEnv, folderProfile: string | undefined): string | undefined {
  if (!from.AWS_ACCESS_KEY_ID || from.AWS_PROFILE || folderProfile) return undefined;
  return (
    "note: this shell's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not copied into the unit (secrets never are), " +
    "so the service signs with what the AWS SDK finds without them: put the key in ~/.aws/credentials, as the default " +
    "profile or a named one (then `git config cloudbridge.profile NAME` in the folder), or the daemon it starts has no key."
  );
}

export function unitName(folder: string): string {
  const slug =
    basename(folder)
      .replace(/[^A-Za-z0-9_.-]/g, "_")
      .slice(0, 40) || "folder";
  return `cloudbridge-${slug}-${createHash("sha256").update(folder).digest("hex").slice(0, 8)}.service`;
}

export function userUnitDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "systemd", "user");
}

/** systemd's quoting for ExecStart and Environment values. */
function quote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `"${value.replace(/(["\\])/g, "\\$1").replace(/%/g, "%%")}"`;
}

export function renderUnit(spec: ServiceSpec): string {
  const lines = [
    "[Unit]",
    `Description=cloudbridge: keep ${spec.folder} in sync`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${spec.command.map(quote).join(" ")} daemon ${quote(spec.folder)}`,
    ...Object.entries(spec.env).map(([name, value]) => `Environment=${quote(`${name}=${value}`)}`),
    "Restart=on-failure",
    "RestartSec=5",
    "TimeoutStopSec=30",
    "NoNewPrivileges=yes",
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ];
  return lines.join("\n");
}

export function renderLaunchdPlist(spec: ServiceSpec): string {
  const label = unitName(spec.folder)
    .replace(/\.service$/, "")
    .replace(/^cloudbridge-/, "org.cloudbridge.");
  const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const args = [...spec.command, "daemon", spec.folder].map((a) => `      <string>${xml(a)}</string>`).join("\n");
  const env = Object.entries(spec.env)
    .map(([k, v]) => `      <key>${xml(k)}</key><string>${xml(v)}</string>`)
    .join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
  <dict>
    <key>Label</key><string>${label}</string>
    <key>ProgramArguments</key>
    <array>
${args}
    </array>
    <key>EnvironmentVariables</key>
    <dict>
${env}
    </dict>
    <key>RunAtLoad</key><true/>
    <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
    <key>StandardErrorPath</key><string>${xml(join(spec.folder, ".git", "cloudbridge", "daemon.log"))}</string>
  </dict>
</plist>
`;
}

export interface InstallResult {
  unitPath: string;
  name: string;
  /** Whether systemd was told (daemon-reload + enable --now); false with `start: false` or without a user manager. */
  started: boolean;
  /** Why it was not started, for the person. */
  note?: string;
}

export async function installUserUnit(
  spec: ServiceSpec,
  options: { start?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<InstallResult> {
  const dir = userUnitDir(options.env);
  const name = unitName(spec.folder);
  const unitPath = join(dir, name);
  await mkdir(dir, { recursive: true });
  await writeFile(unitPath, renderUnit(spec));
  if (options.start === false)
    return {
      unitPath,
      name,
      started: false,
      note: `start it with: systemctl --user daemon-reload && systemctl --user enable --now ${name}`,
    };
  try {
    await execFileAsync("systemctl", ["--user", "daemon-reload"]);
    await execFileAsync("systemctl", ["--user", "enable", "--now", name]);
    return { unitPath, name, started: true };
  } catch (error) {
    const why = ((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split("\n")[0];
    return {
      unitPath,
      name,
      started: false,
      note: `systemd did not start it (${why}); in a login session run: systemctl --user daemon-reload && systemctl --user enable --now ${name}`,
    };
  }
}

export async function uninstallUserUnit(folder: string, options: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const name = unitName(folder);
  await execFileAsync("systemctl", ["--user", "disable", "--now", name]).catch(() => undefined);
  const unitPath = join(userUnitDir(options.env), name);
  await rm(unitPath, { force: true });
  await execFileAsync("systemctl", ["--user", "daemon-reload"]).catch(() => undefined);
  return unitPath;
}
