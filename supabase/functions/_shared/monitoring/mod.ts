/**
 * Monitoring for Supabase Edge Functions: the TypeScript side of
 * supabase-monitoring (docs/architecture.md, "Collection paths").
 *
 * ```ts
 * import { EdgeMonitor } from "../_shared/monitoring/mod.ts";
 * const monitor = EdgeMonitor.fromEnv();
 * monitor.recordApiCall("spotify", 120, true, { endpoint: "/v1/artists", statusCode: 200 });
 * await monitor.finish(); // EdgeRuntime.waitUntil under Supabase, an awaited flush elsewhere
 * ```
 */

export {
  type ApiCallOptions,
  EdgeMonitor,
  type HealthStatus,
  type MetricOptions,
  type MonitorOptions,
  type MonitorStats,
  type ProcessingOptions,
  type SystemHealth,
  type TimeApiCallOptions,
} from "./monitor.ts";
export { InvalidInputError, MonitoringError } from "./errors.ts";
export { API_CALL_METRIC, QUEUE_PROCESSING_METRIC } from "./rows.ts";
export type { RetryPolicy } from "./transport.ts";
export type { Severity } from "./validation.ts";
