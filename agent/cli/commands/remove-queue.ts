import { readDaemonStatus } from "../../daemon-status.ts";
import { findFolder, FolderError, readSettings } from "../../folder/index.ts";
import { queueNameFor, removeAgentQueue } from "../../listen/sqs.ts";
import { emit } from "../output.ts";

/**
 * `cloudbridge remove-queue DIR`: the SQS queue a daemon made for itself with `--listen sqs` (and its
 * subscription to the change topic) outlives the folder: nothing else removes it. Run once the folder
 * stops syncing or hears its changes another way (the stack's queue, XMPP, polling), with credentials
 * that may delete queues (the administrator's, which created it).
 */
export async function removeQueueCommand(dir: string | undefined, options: { json?: boolean }): Promise<void> {
  const root = await findFolder(dir);
  const settings = await readSettings(root);
  const daemon = await readDaemonStatus(root);
  if (daemon?.running && daemon.listen === "sqs") {
    throw new FolderError(
      "daemon-running",
      `the daemon (pid ${daemon.pid}) listens on that queue: stop it first (kill ${daemon.pid}), then run this again; start it afterwards with --listen xmpp or --listen poll.`,
    );
  }
  const removed = await removeAgentQueue({ agent: settings.agent });
  const queue = queueNameFor(settings.agent);
  emit(options.json, { queue, ...removed }, () =>
    removed.queueUrl
      ? `removed the queue ${queue} and ${removed.subscriptions.length} subscription(s) to it` +
        (settings.listen === "sqs" ? `\nnote: cloudbridge.listen is sqs, so the next daemon makes the queue again` : "")
      : `no queue ${queue}: nothing to remove`,
  );
}
