/** An SNS event record as Lambda receives it, carrying `message` (the change message JSON, or anything). */
export function snsRecord(message: string, overrides: Record<string, unknown> = {}) {
  return {
    EventSource: "aws:sns",
    EventVersion: "1.0",
    EventSubscriptionArn: "arn:aws:sns:us-east-1:123456789012:cloudbridge-changes:0b7c9d9e-1111-2222-3333-444455556666",
    Sns: {
      Type: "Notification",
      MessageId: "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
      TopicArn: "arn:aws:sns:us-east-1:123456789012:cloudbridge-changes",
      Subject: null,
      Message: message,
      Timestamp: "2026-11-21T12:00:00.000Z",
      SignatureVersion: "1",
      Signature: "",
      SigningCertUrl: "",
      UnsubscribeUrl: "",
      MessageAttributes: {},
    },
    ...overrides,
  };
}
