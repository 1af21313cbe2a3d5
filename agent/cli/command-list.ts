/**
 * Every command of `cloudbridge`, as commander is told of it: name, description, arguments and options.
 * This file imports nothing: a command's implementation (./commands/<name>.ts, and through it the AWS
 * SDK, git, the annex, XMPP…) is imported by `load` only when that command runs, so `--version`, `--help`
 * and a mistyped command start in the time Node itself takes. A unit test runs every `load`.
 */

/** `[flags, description, default]`, as commander's `.option()` takes them. */
export type OptionSpec = readonly [flags: string, description: string, defaultValue?: string];

/** `[name, description, default]`, as commander's `.argument()` takes them. */
export type ArgumentSpec = readonly [name: string, description: string, defaultValue?: string];

/** A command's implementation: commander's action (the arguments, then the options). */
export type Action = (...args: never[]) => Promise<void>;

export interface CommandDescriptor {
  readonly name: string;
  readonly description: string;
  readonly arguments?: readonly ArgumentSpec[];
  /** Options the command refuses to run without; listed first. */
  readonly requiredOptions?: readonly OptionSpec[];
  readonly options?: readonly OptionSpec[];
  /** Everything after the name goes to the implementation as it is, `--help` included. */
  readonly passThrough?: true;
  /** Imports the implementation; absent for a group of subcommands. */
  readonly load?: () => Promise<Action>;
  readonly subcommands?: readonly CommandDescriptor[];
}

/** `--json`, as each kind of command words it. */
const JSON_OUTPUT: OptionSpec = ["--json", "print as JSON"];
const JSON_RESULT: OptionSpec = ["--json", "print the result as JSON"];
const JSON_PER_FILE: OptionSpec = ["--json", "one JSON object per file on stdout"];
const JSON_KEY_RING: OptionSpec = ["--json", "print the key ring as JSON"];

/** Where the bucket is and how this machine is named, as init and clone take them (stored in the folder). */
const ENDPOINT: OptionSpec = ["--endpoint <url>", "an S3-compatible endpoint (default: the AWS SDK's configuration; stored in the folder)"];
const REGION: OptionSpec = ["--region <region>", "the bucket's region (default: the AWS SDK's configuration; stored in the folder)"];
const DESCRIPTION: OptionSpec = ["--description <text>", "how this machine is named to the others (default: user on host: folder name)"];

/** A folder's `cloudbridge.*` settings, as init and clone take them. */
const FOLDER_SETTINGS: readonly OptionSpec[] = [
  ["--listen <how>", "how to hear of changes: auto, xmpp, sqs or poll", "auto"],
  ["--topic-arn <arn>", "the change topic to subscribe this agent's SQS queue to"],
  ["--xmpp-service <url>", "XMPP server (xmpp://host:port or xmpps://host:port)"],
  ["--xmpp-jid <jid>", "this agent's XMPP account (password in CLOUDBRIDGE_XMPP_PASSWORD or .git/cloudbridge/xmpp-password)"],
  ["--poll-interval <seconds>", "without notifications: seconds between two looks at the bucket", "30"],
  ["--wanted <what>", "which annexed content to download: everything or nothing", "everything"],
];

/** Onboarding from a deployed stack or an invite, as init and clone take it. */
const ONBOARDING: readonly OptionSpec[] = [
  ["--stack <name>", "onboard from a deployed stack (administrator's credentials): reads its outputs and the agent's key"],
  ["--agent <name>", "with --stack: the stack's agent this machine runs as"],
  ["--repo <name>", "with --stack: the repository to sync"],
  ["--invite <file>", "onboard from an invite file the administrator made (`cloudbridge invite`); no administrator credentials needed"],
];

/** The annex commands' folder (get, drop, copy, whereis, fsck). */
const DIR: OptionSpec = [
  "--dir <folder>",
  "the folder to work in (default: the one around the current directory); paths are relative to it",
];

const FOLDER_ARGUMENT: ArgumentSpec = ["[dir]", "the synced folder (default: the one around the current directory)"];
const ANNEX_PATHS: ArgumentSpec = ["[paths...]", "files or directories (default: everything annexed)"];
const ANNEX_KEY: OptionSpec = ["--key <key...>", "a git-annex key instead of a path"];

export const COMMANDS: readonly CommandDescriptor[] = [
  {
    name: "init",
    description: "First machine: create the repository in the bucket and start syncing DIR (its files become the first commit).",
    arguments: [["<dir>", "the folder to sync (created if missing; existing files are kept and uploaded)"]],
    options: [
      ["--remote <url>", "where the repository lives: s3://BUCKET[/PREFIX]/REPO (or --stack, or --invite)"],
      ENDPOINT,
      REGION,
      DESCRIPTION,
      ["--adopt-history", "DIR is a git repository with history: upload that history (every machine gets all of it)"],
      ["--new-history", "DIR is a git repository with history: start a new one on main from its files (its branches stay here)"],
      ["--encrypt", "encrypt the repository: the bucket holds no readable name or content (see `cloudbridge key`)"],
      JSON_RESULT,
      ...FOLDER_SETTINGS,
      ...ONBOARDING,
    ],
    load: async () => (await import("./commands/init.ts")).initCommand,
  },
  {
    name: "clone",
    description:
      "Another machine: join the repository at URL in DIR and download its files (files already in DIR are kept: a different version of a file the repository has becomes name.variant-XXXX.ext); run it again to finish an interrupted clone. Exits 3 when a file could not be synced (each listed with what to do; everything else is).",
    arguments: [
      ["<url-or-dir>", "s3://BUCKET[/PREFIX]/REPO, then DIR (with --stack or --invite: DIR only)"],
      ["[dir]", "the folder to create, or a folder with files (not a git repository)"],
    ],
    options: [ENDPOINT, REGION, DESCRIPTION, JSON_RESULT, ...FOLDER_SETTINGS, ...ONBOARDING],
    load: async () => (await import("./commands/clone.ts")).cloneCommand,
  },
  {
    name: "invite",
    description:
      "Administrator: write a one-time invite file that onboards one folder on a machine that must never hold administrator credentials (`cloudbridge init|clone --invite FILE` there).",
    requiredOptions: [
      ["--stack <name>", "the deployed stack"],
      ["--agent <name>", "the stack's agent the machine will run as"],
      ["--repo <name>", "the repository it will sync"],
    ],
    options: [
      ["--out <file>", "where to write the invite (mode 0600; never over an existing file)"],
      ["--expires <duration>", "how long the invite can be used: 30m, 24h, 7d", "24h"],
      ["--xmpp-jid <jid>", "the agent's XMPP account (its password from CLOUDBRIDGE_XMPP_PASSWORD, never the command line)"],
      ["--endpoint <url>", "an AWS-compatible endpoint (default: the AWS SDK's configuration)"],
      JSON_RESULT,
    ],
    load: async () => (await import("./commands/invite.ts")).inviteCommand,
  },
  {
    name: "sync",
    description:
      "One sync round, then exit: commit local changes, push, pull, merge, transfer content. Exits 3 when a file could not be synced (refused, not uploaded, not written, its content not downloaded or not uploaded: each listed with what to do; everything else is).",
    arguments: [FOLDER_ARGUMENT],
    options: [JSON_RESULT],
    load: async () => (await import("./commands/sync.ts")).syncCommand,
  },
  {
    name: "daemon",
    description:
      "Keep DIR in sync until stopped (Ctrl-C or SIGTERM): watch, commit, push, listen, pull, merge, transfer. Several DIRs: one daemon serves all of a machine's folders (an agent's queue has one reader).",
    arguments: [["[dirs...]", "the synced folders (default: the one around the current directory)"]],
    options: [
      ["--listen <how>", "override cloudbridge.listen for this run: auto, xmpp, sqs or poll"],
      ["--poll-interval <seconds>", "override cloudbridge.pollInterval for this run"],
      ["--reconcile-interval <seconds>", "override cloudbridge.reconcileInterval: a full sync at least this often"],
      ["--debounce <ms>", "override cloudbridge.debounce: quiet time before a burst of changes is committed"],
      ["--ui-port <port>", "override cloudbridge.uiPort: the page's port on 127.0.0.1 (0: any free one) or off"],
      ["--compact-above <packs>", "override cloudbridge.compactAbove: compact an encrypted repository's packs past this many"],
      ["--settle <ms>", "override cloudbridge.settle: how long a changed file must stay unchanged before it is committed"],
      ["--json-log", "structured JSON log lines even on a terminal"],
    ],
    load: async () => (await import("./commands/daemon.ts")).daemonCommand,
  },
  {
    name: "status",
    description:
      "What a synced folder is doing: commits not in the cloud, local changes, refused paths, transfers, the daemon and its listener, the other machines.",
    arguments: [FOLDER_ARGUMENT],
    options: [
      ["--json", "print the status as JSON"],
      ["--offline", "do not ask the bucket (its branch, the other machines)"],
    ],
    load: async () => (await import("./commands/status.ts")).statusCommand,
  },
  {
    name: "log",
    description: "The folder's history: who changed what, and when (newest first).",
    arguments: [FOLDER_ARGUMENT],
    options: [
      ["-n, --max-count <n>", "how many changes to show", "20"],
      ["--files", "list the files each change touched"],
      ["--json", "print the history as JSON"],
    ],
    load: async () => (await import("./commands/log.ts")).logCommand,
  },
  {
    name: "conflicts",
    description: "Files edited on two machines (both versions kept side by side), and resolving them.",
    arguments: [FOLDER_ARGUMENT],
    options: [
      ["--keep <file>", "keep this one: FILE's content stays at the shared name, the other version goes (it stays in history)"],
      ["--keep-both <file>", "keep both: the variant of FILE's conflict gets a plain name of its own"],
      JSON_OUTPUT,
    ],
    load: async () => (await import("./commands/conflicts.ts")).conflictsCommand,
  },
  {
    name: "versions",
    description: "Every version of a file in the folder's history (also of a deleted file): who changed it and when.",
    arguments: [["<path>", "a file in a synced folder (it may have been deleted)"]],
    options: [["-n, --max-count <n>", "how many versions to show", "50"], JSON_OUTPUT],
    load: async () => (await import("./commands/versions.ts")).versionsCommand,
  },
  {
    name: "restore",
    description:
      "Bring back an older version of a file, a deleted file, or a whole folder, as a new change (history is never rewritten). " +
      "Without --at or --version: a file's previous version, a deleted file's last one, a folder's deleted files.",
    arguments: [["<path>", "a file or folder in a synced folder (it may have been deleted)"]],
    options: [
      ["--at <time>", 'as it was at this time (e.g. 2026-11-28T10:00, "yesterday 18:00", "2 hours ago")'],
      ["--version <n>", "this version of a file, as `cloudbridge versions` numbers them (1 = newest)"],
      JSON_OUTPUT,
    ],
    load: async () => (await import("./commands/restore.ts")).restoreCommand,
  },
  {
    name: "pause",
    description:
      "Stop syncing a folder until `cloudbridge resume`: its daemon commits, pushes and pulls nothing meanwhile (kept across restarts).",
    arguments: [FOLDER_ARGUMENT],
    options: [JSON_OUTPUT],
    load: async () => (await import("./commands/pause.ts")).pauseCommand,
  },
  {
    name: "resume",
    description: "Sync a paused folder again: its daemon catches up with one full round.",
    arguments: [FOLDER_ARGUMENT],
    options: [JSON_OUTPUT],
    load: async () => (await import("./commands/resume.ts")).resumeCommand,
  },
  {
    name: "limit",
    // The setting names are the folder's (SETTING_NAMES); a unit test holds them equal.
    description:
      "Bandwidth limits for annexed content (cloudbridge.uploadLimit, cloudbridge.downloadLimit); without options, show them. A running daemon applies a change at its next round.",
    arguments: [FOLDER_ARGUMENT],
    options: [
      ["--up <rate>", "uploads: bytes per second (5MB, 512KiB) or none"],
      ["--down <rate>", "downloads: bytes per second (5MB, 512KiB) or none"],
      JSON_OUTPUT,
    ],
    load: async () => (await import("./commands/limit.ts")).limitCommand,
  },
  {
    name: "open",
    description: "Open the running daemon's page in the browser (with its secret token), or print its URL when there is no browser.",
    arguments: [FOLDER_ARGUMENT],
    options: [["--print", "only print the URL"], JSON_OUTPUT],
    load: async () => (await import("./commands/open.ts")).openCommand,
  },
  {
    name: "get",
    description: "Download annexed files' content from the cloud (verified against its key), and record that this folder has it.",
    arguments: [ANNEX_PATHS],
    options: [ANNEX_KEY, JSON_PER_FILE, DIR],
    load: async () => (await import("./commands/get.ts")).getCommand,
  },
  {
    name: "drop",
    description: "Remove annexed content from this folder (or with --from cloud, from the bucket), never the last verified copy.",
    arguments: [ANNEX_PATHS],
    options: [
      ANNEX_KEY,
      ["--from <remote>", 'drop from "cloud" instead of from this folder'],
      ["--force", "with --from cloud: drop even content a machine wants and does not have yet"],
      JSON_PER_FILE,
      DIR,
    ],
    load: async () => (await import("./commands/drop.ts")).dropCommand,
  },
  {
    name: "copy",
    description: "Copy annexed content this folder has to the cloud (verified against its key), and record that the cloud has it.",
    arguments: [ANNEX_PATHS],
    requiredOptions: [["--to <remote>", 'where to copy: "cloud"']],
    options: [ANNEX_KEY, JSON_PER_FILE, DIR],
    load: async () => (await import("./commands/copy.ts")).copyCommand,
  },
  {
    name: "whereis",
    description:
      "Show where each file is: an annexed file's copies (agents, the cloud) from the git-annex branch; a small file is in git, on every machine.",
    arguments: [["[paths...]", "files or directories (default: every file)"]],
    options: [ANNEX_KEY, ["--no-fetch", "use the local git-annex branch without fetching the cloud's first"], JSON_PER_FILE, DIR],
    load: async () => (await import("./commands/whereis.ts")).whereisCommand,
  },
  {
    name: "fsck",
    description:
      "Re-hash annexed content here (or with --from cloud, in the bucket) and report any mismatch. Nothing is deleted or repaired.",
    arguments: [["[paths...]", "files or directories (default: every key here, or every object in the cloud)"]],
    options: [
      ANNEX_KEY,
      ["--from <remote>", 'check "cloud" instead of this folder'],
      ["--json", "one JSON object per problem on stdout"],
      DIR,
    ],
    load: async () => (await import("./commands/fsck.ts")).fsckCommand,
  },
  {
    name: "service",
    description: "Run the daemon as a service that starts at login and restarts on failure (systemd user unit; launchd on macOS).",
    subcommands: [
      {
        name: "install",
        description: "Install (and start) a systemd user unit that runs `cloudbridge daemon DIR`.",
        arguments: [FOLDER_ARGUMENT],
        options: [["--no-start", "write the unit but do not enable or start it"], JSON_RESULT],
        load: async () => (await import("./commands/service.ts")).serviceInstallCommand,
      },
      {
        name: "uninstall",
        description: "Stop and remove the folder's systemd user unit.",
        arguments: [FOLDER_ARGUMENT],
        load: async () => (await import("./commands/service.ts")).serviceUninstallCommand,
      },
      {
        name: "show",
        description: "Print the unit (or, with --launchd, the macOS launchd agent plist) without installing it.",
        arguments: [FOLDER_ARGUMENT],
        options: [["--launchd", "print a launchd plist for ~/Library/LaunchAgents instead"]],
        load: async () => (await import("./commands/service.ts")).serviceShowCommand,
      },
    ],
  },
  {
    // bin/cloudbridge runs local/main.ts for `local` before this CLI loads; listed so that --help shows it.
    name: "local",
    description: "Run the cloud on this machine: S3 + SNS + SQS on 127.0.0.1, with the real functions behind bucket events.",
    arguments: [["[options...]", "see cloudbridge local --help"]],
    passThrough: true,
    load: async () => (await import("./commands/local.ts")).localCommand,
  },
  {
    name: "compact",
    description: "Merge a repository's packs in the bucket into one; retired packs are deleted on a later run, after the grace period.",
    arguments: [
      ["[url]", "cloudbridge::s3://<bucket>[/<prefix>]/<repo> (default: cloudbridge.bucket/prefix/repo of the git repository here)"],
    ],
    options: [
      // gitstore's DEFAULT_GRACE_MS in minutes; a unit test holds them equal.
      ["--grace <minutes>", "keep retired packs readable this long before deleting them", "15"],
      ["--min-packs <n>", "merge only when at least this many packs are listed", "2"],
      ["--engine <engine>", "git engine: native (git binary) or isomorphic (isomorphic-git, as in Lambda)", "native"],
      ["--json", "print the report as one JSON line"],
    ],
    load: async () => (await import("./commands/compact.ts")).compactCommand,
  },
  {
    name: "key",
    description: "The machines that hold an encrypted repository's key.",
    subcommands: [
      {
        name: "show",
        description: "Print this machine's public key (give it to `cloudbridge key add` on a machine that syncs the repository).",
        options: [JSON_OUTPUT],
        load: async () => (await import("./commands/key.ts")).keyShowCommand,
      },
      {
        name: "list",
        description: "The machines that can read an encrypted repository, and its key generations.",
        arguments: [FOLDER_ARGUMENT],
        options: [JSON_OUTPUT],
        load: async () => (await import("./commands/key.ts")).keyListCommand,
      },
      {
        name: "add",
        description: "Let another machine read and write an encrypted repository: wrap every key generation for its public key.",
        arguments: [["<public-key>", "the other machine's public key, as `cloudbridge key show` prints it there (age1…)"], FOLDER_ARGUMENT],
        options: [["--label <text>", "how the key ring names that machine", "another machine"], JSON_KEY_RING],
        load: async () => (await import("./commands/key.ts")).keyAddCommand,
      },
      {
        name: "remove",
        description: "Stop sharing new data with a machine: a new key generation for everything written from now on.",
        arguments: [["<public-key>", "the machine's public key (see `cloudbridge key list`)"], FOLDER_ARGUMENT],
        options: [JSON_KEY_RING],
        load: async () => (await import("./commands/key.ts")).keyRemoveCommand,
      },
    ],
  },
  {
    name: "remove-queue",
    description:
      "Remove the SQS queue this folder's agent created for itself (--listen sqs) and its subscriptions; needs credentials that may delete them.",
    arguments: [FOLDER_ARGUMENT],
    options: [["--json", "print what was removed as JSON"]],
    load: async () => (await import("./commands/remove-queue.ts")).removeQueueCommand,
  },
];
