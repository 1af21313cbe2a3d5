import type { Logger } from "@aws-lambda-powertools/logger";
import { xml, type Element } from "@xmpp/client";
import {
  type ChangeMessage,
  changeSummary,
  changeToXmppAttributes,
  decodeChangeMessage,
  parseSnsEvent,
  XMPP_CHANGE_ELEMENT,
} from "../../protocol/index.ts";
import type { SendStanzas } from "./sender.ts";

export type XmppMetric = "HeadlinesSent" | "RecordsSkipped" | "XmppFailures";

export interface XmppFanoutDeps {
  /** Bare JIDs (every online resource of the account) or full JIDs. */
  readonly recipients: readonly string[];
  /** Connects and sends; only called when there is something to send. */
  readonly send: SendStanzas;
  readonly logger: Pick<Logger, "info" | "warn" | "error">;
  readonly count?: (metric: XmppMetric, value: number) => void;
}

export interface XmppFanoutResult {
  sent: number;
  skipped: number;
}

/** A `<message type="headline">` to `to`, with a line for people and the `<changed/>` payload for agents. */
export function changeHeadline(message: ChangeMessage, to: string): Element {
  return xml(
    "message",
    { type: "headline", to },
    xml("body", {}, changeSummary(message)),
    xml(XMPP_CHANGE_ELEMENT, changeToXmppAttributes(message)),
  );
}

/**
 * SNS change notifications → one headline per change and recipient. Records that are not change messages
 * are logged, counted (`RecordsSkipped`) and skipped without failing the rest. When the XMPP server cannot
 * be reached the error is counted (`XmppFailures`) and thrown: Lambda retries the event and then sends it
 * to the function's dead-letter queue. The topic's other subscribers (the agents' queues) are separate
 * subscriptions, so they are not held back by a down XMPP server.
 */
export async function sendChangeHeadlines(event: unknown, deps: XmppFanoutDeps): Promise<XmppFanoutResult> {
  const { logger } = deps;
  let parsed;
  try {
    parsed = parseSnsEvent(event);
  } catch (error) {
    logger.warn("event skipped: not an SNS event", { reason: (error as Error).message });
    deps.count?.("RecordsSkipped", 1);
    return { sent: 0, skipped: 1 };
  }
  let skipped = parsed.rejected.length;
  for (const { index, reason } of parsed.rejected) logger.warn("record skipped", { index, reason });
  const stanzas: Element[] = [];
  for (const notification of parsed.notifications) {
    try {
      const message = decodeChangeMessage(notification.message);
      for (const to of deps.recipients) stanzas.push(changeHeadline(message, to));
    } catch (error) {
      skipped += 1;
      logger.warn("record skipped: not a change message", { messageId: notification.messageId, reason: (error as Error).message });
    }
  }
  deps.count?.("RecordsSkipped", skipped);
  if (stanzas.length > 0) {
    try {
      await deps.send(stanzas);
    } catch (error) {
      deps.count?.("XmppFailures", 1);
      logger.error("XMPP delivery failed; the event will be retried, then sent to the dead-letter queue", {
        reason: (error as Error).message,
      });
      throw error;
    }
  }
  deps.count?.("HeadlinesSent", stanzas.length);
  logger.info("headlines sent", { sent: stanzas.length, skipped });
  return { sent: stanzas.length, skipped };
}
