/** An S3 event record as Lambda receives it, for tests that feed the parser or the functions. */
export function s3Record(key: string, overrides: Record<string, unknown> = {}) {
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: "us-east-1",
    eventTime: "2026-11-21T12:00:00.000Z",
    eventName: "ObjectCreated:Put",
    s3: { s3SchemaVersion: "1.0", bucket: { name: "cloudbridge" }, object: { key, size: 41, eTag: "0123abcd", sequencer: "00A1" } },
    ...overrides,
  };
}
