import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

/**
 * A function's counters as CloudWatch metrics (Powertools, embedded metric format, namespace
 * `cloudbridge`). Only counts above zero are published: CloudWatch bills a custom metric for each hour
 * it receives data, so a counter that is usually zero (skipped records, failures) costs nothing until it
 * has something to say. Alarms on them treat missing data as zero.
 */
export function functionMetrics(serviceName: string) {
  const metrics = new Metrics({ namespace: "cloudbridge", serviceName });
  return {
    count: (name: string, value: number): void => {
      if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
    },
    publish: (): void => {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}
