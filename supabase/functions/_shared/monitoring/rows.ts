/**
 * Row objects for each table, built from validated call arguments, with the
 * Python SDK's conventions (docs/architecture.md, "Metric names and tags"):
 * a client-generated UUIDv7 `id`, an explicit UTC event time taken at the
 * call, `success` as "true"/"false", counts as JSON numbers.
 */

import { InvalidInputError } from "./errors.ts";
import { uuid7 } from "./ids.ts";
import {
  checkCount,
  checkDatetime,
  checkJsonObject,
  checkName,
  checkNumber,
  checkOptionalText,
  checkSeverity,
  type JsonObject,
  MAX_DETAILS_BYTES,
  MAX_TAGS,
  MAX_TAGS_BYTES,
} from "./validation.ts";

export const QUEUE_PROCESSING_METRIC = "queue_processing";
export const API_CALL_METRIC = "api_call";

/** A table reached through PostgREST: the schema goes in a header, never a dotted name. */
export interface TableRef {
  readonly schema: string;
  readonly name: string;
  /** Primary key columns, the upsert's conflict target (the module assigns them once). */
  readonly conflict: string;
}

/** Partitioned by day on "timestamp": its key contains the partition key. */
export const PIPELINE_METRICS: TableRef = {
  schema: "monitoring",
  name: "pipeline_metrics",
  conflict: "id,timestamp",
};
export const WORKER_ISSUES: TableRef = {
  schema: "monitoring",
  name: "worker_issues",
  conflict: "id",
};
export const MONITORING_EVENTS: TableRef = {
  schema: "public",
  name: "monitoring_events",
  conflict: "id",
};

export type Row = Record<string, unknown> & { id: string };
export type DateInput = Date | string;

/** Tags the module sets from arguments; callers' tags must not override them. */
const PROCESSING_TAGS = ["queue", "success_count", "error_count", "batch_size"];
const API_CALL_TAGS = ["api", "success", "endpoint", "status_code"];

function when(value: DateInput | undefined, field: string): string {
  return value === undefined ? new Date().toISOString() : checkDatetime(value, field);
}

function tagsOf(tags: unknown): JsonObject {
  return checkJsonObject(tags, "tags", {
    maxBytes: MAX_TAGS_BYTES,
    maxKeys: MAX_TAGS,
    scalarsOnly: true,
  });
}

function detailsOf(details: unknown): JsonObject {
  return checkJsonObject(details, "details", { maxBytes: MAX_DETAILS_BYTES });
}

function refuseReserved(tags: JsonObject, reserved: string[]): void {
  const clash = reserved.filter((key) => key in tags).sort();
  if (clash.length) {
    throw new InvalidInputError(
      "tags",
      `must not set ${clash.map((k) => `'${k}'`).join(", ")}: the SDK sets them from the arguments`,
    );
  }
}

/** A monitoring.pipeline_metrics row. */
export function metricRow(
  name: unknown,
  value: unknown,
  tags: unknown,
  timestamp?: DateInput,
): Row {
  return {
    id: uuid7(),
    metric_name: checkName(name, "metric_name"),
    metric_value: checkNumber(value, "metric_value"),
    tags: tagsOf(tags),
    timestamp: when(timestamp, "timestamp"),
  };
}

/** A `queue_processing` metric: one processed batch of a queue. */
export function processingRow(
  queueName: unknown,
  processingTimeMs: unknown,
  successCount: unknown,
  errorCount: unknown,
  batchSize: unknown,
  tags: unknown,
  timestamp?: DateInput,
): Row {
  const successes = checkCount(successCount, "success_count");
  const errors = checkCount(errorCount, "error_count");
  const size = batchSize === undefined || batchSize === null
    ? successes + errors
    : checkCount(batchSize, "batch_size");
  const extra = tagsOf(tags);
  refuseReserved(extra, PROCESSING_TAGS);
  return {
    id: uuid7(),
    metric_name: QUEUE_PROCESSING_METRIC,
    metric_value: checkNumber(processingTimeMs, "processing_time_ms", true),
    tags: {
      ...extra,
      queue: checkName(queueName, "queue_name"),
      success_count: successes,
      error_count: errors,
      batch_size: size,
    },
    timestamp: when(timestamp, "timestamp"),
  };
}

/** An `api_call` metric; `success` is stored as the text "true"/"false", `status_code` as text. */
export function apiCallRow(
  apiName: unknown,
  durationMs: unknown,
  success: unknown,
  endpoint: unknown,
  statusCode: unknown,
  tags: unknown,
  timestamp?: DateInput,
): Row {
  if (typeof success !== "boolean") {
    throw new InvalidInputError("success", `must be a boolean, got ${typeof success}`);
  }
  const extra = tagsOf(tags);
  refuseReserved(extra, API_CALL_TAGS);
  extra.api = checkName(apiName, "api_name");
  extra.success = success ? "true" : "false";
  if (endpoint !== undefined && endpoint !== null) extra.endpoint = checkName(endpoint, "endpoint");
  if (statusCode !== undefined && statusCode !== null) {
    const code = checkCount(statusCode, "status_code");
    if (code < 100 || code > 599) {
      throw new InvalidInputError("status_code", `must be an HTTP status (100-599), got ${code}`);
    }
    extra.status_code = String(code);
  }
  return {
    id: uuid7(),
    metric_name: API_CALL_METRIC,
    metric_value: checkNumber(durationMs, "duration_ms", true),
    tags: extra,
    timestamp: when(timestamp, "timestamp"),
  };
}

/** A monitoring.worker_issues row, open (resolved = false). */
export function issueRow(
  workerName: unknown,
  issueType: unknown,
  message: unknown,
  severity: unknown,
  details: unknown,
  createdAt?: DateInput,
): Row {
  return {
    id: uuid7(),
    worker_name: checkName(workerName, "worker_name"),
    issue_type: checkName(issueType, "issue_type"),
    severity: checkSeverity(severity),
    message: checkOptionalText(message, "message"),
    details: detailsOf(details),
    resolved: false,
    created_at: when(createdAt, "created_at"),
  };
}

/** A public.monitoring_events row. */
export function eventRow(eventType: unknown, details: unknown, createdAt?: DateInput): Row {
  return {
    id: uuid7(),
    event_type: checkName(eventType, "event_type"),
    details: detailsOf(details),
    created_at: when(createdAt, "created_at"),
  };
}
