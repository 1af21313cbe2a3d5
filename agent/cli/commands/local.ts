import { resolve } from "node:path";
import type { Command } from "commander";
import { CliError } from "../errors.ts";

export function localCommand(program: Command): void {
  program
    .command("local")
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
    .option("--faults <rates>", "with --stack: answer conflict=<rate> of conditional writes 409 and slowdown=<rate> of requests 503")
    .action(async (options: LocalOptions) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new CliError(`--port ${JSON.stringify(options.port)} is not a port number (0–65535).`, 2);
      }
      if (options.faults && !options.stack) throw new CliError("--faults needs --stack.", 2);
      if (options.stack) {
        if (options.data || options.xmppService)
          throw new CliError("--stack deploys what the stack holds: --data and --xmpp-* do not apply.", 2);
        // Loaded only with --stack: plain `cloudbridge local` stays as quick to start as it was.
        const { runStackCloud } = await import("../../../local/stack/run.ts");
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
      // The one place the agent's CLI reaches into local/: `cloudbridge local` is the cloud on one machine.
      // Loaded on use: the emulator costs ~25 MiB of memory that every other command would otherwise carry.
      const { startLocalCloud } = await import("../../../local/cloud.ts");
      let cloud;
      try {
        cloud = await startLocalCloud({
          port,
          bucket: options.bucket,
          prefix: options.prefix,
          region: options.region,
          ...(dataDir ? { dataDir } : {}),
          ...(xmpp ? { xmpp } : {}),
          log: (line) => process.stderr.write(`cloudbridge local: ${line}\n`),
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
          throw new CliError(`port ${port} is already in use: stop what runs there, or pass --port 0 to pick a free port.`);
        }
        throw error;
      }
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ endpoint: cloud.endpoint, bucket: cloud.bucket, topicArn: cloud.topicArn, env: cloud.env })}\n`,
        );
      } else {
        const lines = [
          `cloudbridge local is running on ${cloud.endpoint} (loopback only)${dataDir ? `, state in ${dataDir}` : ", state in memory"}.`,
          `  bucket  s3://${cloud.bucket}`,
          `  topic   ${cloud.topicArn}`,
          ...(xmpp ? [`  xmpp    headlines to ${xmpp.recipients.join(", ")} from ${xmpp.jid} via ${xmpp.service}`] : []),
          "",
          "Point an agent (or any AWS SDK or CLI) at it with:",
          ...Object.entries(cloud.env).map(([name, value]) => `  export ${name}=${value}`),
          "",
          "Press Ctrl-C to stop.",
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      }
      await new Promise<void>((resolveStop) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          resolveStop();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      await cloud.stop();
      if (!options.json) process.stdout.write("cloudbridge local stopped.\n");
    });
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

/** The XMPP function's settings; the password comes from the environment so it never shows in `ps`. */
function xmppOptions(options: LocalOptions) {
  const given = [options.xmppService, options.xmppJid, options.xmppTo].filter((v) => v !== undefined).length;
  if (given === 0) return undefined;
  const password = process.env.CLOUDBRIDGE_XMPP_PASSWORD;
  if (given < 3 || !password) {
    throw new CliError(
      "XMPP notifications need --xmpp-service, --xmpp-jid and --xmpp-to, and the notifier's password in CLOUDBRIDGE_XMPP_PASSWORD.",
      2,
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
