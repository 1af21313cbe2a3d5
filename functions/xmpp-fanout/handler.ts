import { Logger } from "@aws-lambda-powertools/logger";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SNSEvent } from "aws-lambda";
import { FUNCTION_SERVICE_NAME, parseXmppFanoutEnvironment } from "../../protocol/index.ts";
import { functionMetrics } from "../common/metrics.ts";
import { cachedCredentials } from "./credentials.ts";
import { sendChangeHeadlines, type XmppFanoutResult } from "./notify.ts";
import { XmppAuthError, xmppStanzaSender } from "./sender.ts";

/**
 * Lambda entry point: SNS change topic → XMPP headlines to the configured JIDs.
 * Configuration (set by the stack): `parseXmppFanoutEnvironment` (protocol/deployment.ts). The notifier's jid and password come from the secret, fetched once per
 * container and cached; neither is ever logged.
 */
const logger = new Logger({ serviceName: FUNCTION_SERVICE_NAME.xmppFanout });
const metrics = functionMetrics("xmpp-fanout");
const secrets = new SecretsManagerClient({});
const settings = parseXmppFanoutEnvironment(process.env);
const credentials = cachedCredentials(async () => {
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: settings.secretId }));
  return SecretString;
});

export const handler = async (event: SNSEvent): Promise<XmppFanoutResult> => {
  try {
    return await sendChangeHeadlines(event, {
      recipients: settings.recipients,
      send: async (stanzas) => {
        const sender = xmppStanzaSender({ ...settings, credentials: await credentials.get() });
        try {
          await sender(stanzas);
        } catch (error) {
          // The password may have been rotated: fetch it again on the retry.
          if (error instanceof XmppAuthError) credentials.invalidate();
          throw error;
        }
      },
      logger,
      count: metrics.count,
    });
  } finally {
    metrics.publish();
  }
};
