import { resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { ProtocolError } from "../protocol/index.ts";
import type { LocalXmppOptions } from "./cloud.ts";
import { LocalCloudError, type LocalCloudErrorCode } from "./errors.ts";
import { exportLines, serveUntilStopped } from "./serve.ts";

/**
 * `cloudbridge local`: the cloud on one machine, as its own program. bin/cloudbridge runs this file for
 * `cloudbridge local …` without loading the agent, and the agent's CLI runs it as a child process when
 * started directly, so the emulator (~25 MiB) is never part of the agent.
 */
export function buildLocalProgram(): Command {
  return new Command("cloudbridge local")
    .description("Run the cloud on this machine: S3 + SNS + SQS on 127.0.0.1, with the real functions behind bucket events.")
    .option("--port <port>", "port to listen on (0 picks a free one)", "4566")
    .option("--data <dir>", "keep the bucket, topics and queues in this folder across restarts (default: in memory)")
    .option("--bucket <name>", "the bucket to create", "cloudbridge")
    .option("--prefix <prefix>", "deployment prefix inside the bucket", "")
    .option("--region <region>", "region the emulator reports", "us-east-1")
    .option("--json", "print the endpoint and environment as one JSON line")
    .option("--xmpp-service <url>", "also send XMPP headlines for changes, through this server (xmpp://host:port or xmpps://host:port)")
    .option("--xmpp-jid <jid>", "the notifier account that sends them (password in CLOUDBRIDGE_XMPP_PASSWORD)")
    .option("--xmpp-to <jids>", "comma-separated JIDs that receive them")
    .option(
      "--stack <cdk.out>",
      "deploy this synthesized stack instead (`npx cdk synth`): its keys, policies, queues and functions, as AWS would",
    )
    .option("--faults <rates>", "with --stack: answer conflict=<rate> of conditional writes 409 and slowdown=<rate> of S3 requests 503")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .action(runLocalCloud);
}

interface LocalOptions {
  port: string;
  data?: string;
  bucket: string;
  prefix: string;
  region: string;
  json?: boolean;
  xmppService?: string;
  xmppJid?: string;
  xmppTo?: string;
  stack?: string;
  faults?: string;
}

async function runLocalCloud(options: LocalOptions): Promise<void> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new LocalCloudError("local-invalid-option", `--port ${JSON.stringify(options.port)} is not a port number (0–65535).`);
  }
  if (options.faults && !options.stack) throw new LocalCloudError("local-invalid-option", "--faults needs --stack.");
  if (options.stack) {
    if (options.data || options.xmppService) {
      throw new LocalCloudError("local-invalid-option", "--stack deploys what the stack holds: --data and --xmpp-* do not apply.");
    }
    // Loaded only with --stack: plain `cloudbridge local` starts as quickly as it did.
    const { runStackCloud } = await import("./stack/run.ts");
    return runStackCloud({
      stack: options.stack,
      port,
      region: options.region,
      ...(options.faults ? { faults: options.faults } : {}),
      ...(options.json ? { json: true } : {}),
    });
  }
  const xmpp = xmppOptions(options);
  const dataDir = options.data ? resolve(options.data) : undefined;
  // Loaded when the cloud starts, not for --help or a wrong option: the emulator takes a while to load.
  const { startLocalCloud } = await import("./cloud.ts");
  await serveUntilStopped({
    port,
    json: options.json,
    start: (log) =>
      startLocalCloud({
        port,
        bucket: options.bucket,
        prefix: options.prefix,
        region: options.region,
        ...(dataDir ? { dataDir } : {}),
        ...(xmpp ? { xmpp } : {}),
        log,
      }),
    record: (cloud) => ({ endpoint: cloud.endpoint, bucket: cloud.bucket, topicArn: cloud.topicArn, env: cloud.env }),
    lines: (cloud) => [
      `cloudbridge local is running on ${cloud.endpoint} (loopback only)${dataDir ? `, state in ${dataDir}` : ", state in memory"}.`,
      `  bucket  s3://${cloud.bucket}`,
      `  topic   ${cloud.topicArn}`,
      ...(xmpp ? [`  xmpp    headlines to ${xmpp.recipients.join(", ")} from ${xmpp.jid} via ${xmpp.service}`] : []),
      "",
      "Point an agent (or any AWS SDK or CLI) at it with:",
      ...exportLines(cloud.env),
      "",
      "Press Ctrl-C to stop.",
    ],
  });
}

/** The XMPP function's settings; the password comes from the environment so it never shows in `ps`. */
function xmppOptions(options: LocalOptions): LocalXmppOptions | undefined {
  const given = [options.xmppService, options.xmppJid, options.xmppTo].filter((v) => v !== undefined).length;
  if (given === 0) return undefined;
  const password = process.env.CLOUDBRIDGE_XMPP_PASSWORD;
  if (given < 3 || !password) {
    throw new LocalCloudError(
      "local-invalid-option",
      "XMPP notifications need --xmpp-service, --xmpp-jid and --xmpp-to, and the notifier's password in CLOUDBRIDGE_XMPP_PASSWORD.",
    );
  }
  return {
    service: options.xmppService!,
    jid: options.xmppJid!,
    recipients: options
      .xmppTo!.split(",")
      .map((jid) => jid.trim())
      .filter(Boolean),
    password,
  };
}

/** Exit codes as docs/agent.md gives them for every cloudbridge command: 2 for a wrong command, 1 otherwise. */
const EXIT_CODE: Record<LocalCloudErrorCode, number> = {
  "local-invalid-option": 2,
  "local-port-in-use": 1,
  "local-emulator-incomplete": 1,
  "local-function-failed": 1,
  "local-function-timeout": 1,
  "local-stack-invalid": 1,
};

export async function main(argv: string[]): Promise<number> {
  try {
    await buildLocalProgram().parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    process.stderr.write(`cloudbridge: ${error instanceof Error ? error.message : String(error)}\n`);
    if (process.env.CLOUDBRIDGE_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    if (error instanceof LocalCloudError) return EXIT_CODE[error.code];
    // A --prefix or --bucket the protocol refuses: the person changes the command.
    if (error instanceof ProtocolError) return 2;
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
