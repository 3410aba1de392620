/**
 * The Edge Function side of the monitoring SDK: record calls buffer the rows
 * of one invocation, and one bulk upsert per table writes them at completion.
 *
 * Nothing here throws into the function unless `strict` is set: bad input is
 * logged and counted as `invalid`, a failed write is logged and its rows stay
 * pending for the next flush (same ids, so a re-sent row is never stored
 * twice), a health check that cannot be made answers `overall_status:
 * "unknown"`. The service-role key is never logged.
 */

import { createClient, type SupabaseClient } from "./deps.ts";
import { describe, MonitoringError } from "./errors.ts";
import {
  apiCallRow,
  type DateInput,
  eventRow,
  issueRow,
  metricRow,
  MONITORING_EVENTS,
  PIPELINE_METRICS,
  processingRow,
  type Row,
  type TableRef,
  WORKER_ISSUES,
} from "./rows.ts";
import {
  type ApiFailure,
  DEFAULT_RETRY,
  failureText,
  isTransient,
  type RetryPolicy,
  upsertRows,
  withRetry,
} from "./transport.ts";
import type { Severity } from "./validation.ts";

/** Supabase's edge runtime keeps an isolate alive for promises handed to it. */
declare const EdgeRuntime: { waitUntil(promise: Promise<unknown>): void } | undefined;

export interface MonitorOptions {
  /** An existing service-role client; otherwise one is made from url + serviceRoleKey. */
  client?: SupabaseClient;
  url?: string;
  serviceRoleKey?: string;
  /** Throw bad input at the call and failed writes from flush(). Default false. */
  strict?: boolean;
  retry?: Partial<RetryPolicy>;
  /** Rows held while writes fail; beyond it new rows are dropped and counted. */
  maxBufferedRows?: number;
  logger?: Pick<Console, "error" | "warn">;
}

/** Counters since the monitor was made; every recorded row is in exactly one of the last four. */
export interface MonitorStats {
  /** Calls refused for bad input (never buffered). */
  invalid: number;
  written: number;
  /** Not buffered because the buffer was full, or the monitor has no database. */
  dropped: number;
  /** Refused by the server for good. */
  rejected: number;
  pending: number;
}

export type HealthStatus = "healthy" | "warning" | "critical" | "unknown";

/** `get_system_health()`'s document, or `unknown` with the reason it could not be had. */
export interface SystemHealth {
  overall_status: HealthStatus;
  error?: string;
  timestamp?: string;
  queue_health?: unknown;
  processing_health?: unknown;
  worker_health?: unknown;
  [key: string]: unknown;
}

export interface MetricOptions {
  timestamp?: DateInput;
}
export interface ProcessingOptions extends MetricOptions {
  /** Defaults to successCount + errorCount. */
  batchSize?: number;
  tags?: Record<string, unknown>;
}
export interface ApiCallOptions extends MetricOptions {
  endpoint?: string;
  statusCode?: number;
  tags?: Record<string, unknown>;
}
export interface TimeApiCallOptions {
  endpoint?: string;
  tags?: Record<string, unknown>;
}

/** A refusal caused by some row's data (bad value, constraint), not by the request as a whole. */
function isRowLevel(failure: ApiFailure): boolean {
  return /^2[23]/.test(failure.code ?? "") || failure.status === 409;
}

const REPORTED_STATUSES = new Set(["healthy", "warning", "critical"]);

export class EdgeMonitor {
  readonly strict: boolean;
  readonly #client: SupabaseClient | null;
  readonly #retry: RetryPolicy;
  readonly #maxBuffered: number;
  readonly #log: Pick<Console, "error" | "warn">;
  readonly #buffer = new Map<TableRef, Row[]>();
  #pending = 0;
  #flushing: Promise<boolean> = Promise.resolve(true);
  #stats = { invalid: 0, written: 0, dropped: 0, rejected: 0 };

  constructor(options: MonitorOptions = {}) {
    this.strict = options.strict ?? false;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#maxBuffered = options.maxBufferedRows ?? 10_000;
    this.#log = options.logger ?? console;
    this.#client = options.client ?? this.#makeClient(options.url, options.serviceRoleKey);
  }

  /** A monitor on SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (set by the platform in Edge Functions). */
  static fromEnv(options: Omit<MonitorOptions, "url" | "serviceRoleKey"> = {}): EdgeMonitor {
    return new EdgeMonitor({
      ...options,
      url: Deno.env.get("SUPABASE_URL"),
      serviceRoleKey: Deno.env.get("SUPABASE_SERVICE_ROLE_KEY"),
    });
  }

  #makeClient(url?: string, key?: string): SupabaseClient | null {
    const missing = [!url && "SUPABASE_URL", !key && "SUPABASE_SERVICE_ROLE_KEY"].filter(Boolean);
    if (missing.length) return this.#misconfigured(`${missing.join(" and ")} not set`);
    try {
      return createClient(url!, key!, {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      });
    } catch (error) {
      return this.#misconfigured(describe(error));
    }
  }

  #misconfigured(reason: string): null {
    if (this.strict) throw new MonitoringError(`monitoring is not configured: ${reason}`);
    this.#log.error(`monitoring is not configured, nothing will be written: ${reason}`);
    return null;
  }

  get stats(): MonitorStats {
    return { ...this.#stats, pending: this.#pending };
  }

  /** Validates a row (or refuses it) and buffers it; true when it was accepted. */
  #record(table: TableRef, what: string, build: () => Row): Row | null {
    let row: Row;
    try {
      row = build();
    } catch (error) {
      if (this.strict) throw error;
      this.#stats.invalid++;
      this.#log.error(`invalid monitoring input, ${what} not recorded: ${describe(error)}`);
      return null;
    }
    if (this.#client === null || this.#pending >= this.#maxBuffered) {
      this.#stats.dropped++;
      if (this.#client !== null) this.#log.warn(`monitoring buffer full, ${what} dropped`);
      return null;
    }
    const rows = this.#buffer.get(table) ?? [];
    rows.push(row);
    this.#buffer.set(table, rows);
    this.#pending++;
    return row;
  }

  /** Any measurement, into monitoring.pipeline_metrics. */
  recordMetric(
    name: string,
    value: number,
    tags?: Record<string, unknown>,
    options: MetricOptions = {},
  ): boolean {
    return this.#record(
      PIPELINE_METRICS,
      "metric",
      () => metricRow(name, value, tags, options.timestamp),
    ) !==
      null;
  }

  /** One processed batch of a queue (metric `queue_processing`, the spec's recordProcessingMetric). */
  recordProcessingMetric(
    queueName: string,
    processingTimeMs: number,
    successCount: number,
    errorCount: number,
    options: ProcessingOptions = {},
  ): boolean {
    return this.#record(PIPELINE_METRICS, "processing metric", () =>
      processingRow(
        queueName,
        processingTimeMs,
        successCount,
        errorCount,
        options.batchSize,
        options.tags,
        options.timestamp,
      )) !== null;
  }

  /** One external API call (metric `api_call`, the spec's recordApiCall). */
  recordApiCall(
    apiName: string,
    durationMs: number,
    success: boolean,
    options: ApiCallOptions = {},
  ): boolean {
    return this.#record(PIPELINE_METRICS, "API call metric", () =>
      apiCallRow(
        apiName,
        durationMs,
        success,
        options.endpoint,
        options.statusCode,
        options.tags,
        options.timestamp,
      )) !== null;
  }

  /** Opens an issue in monitoring.worker_issues; returns its id (known before it is written), or null. */
  logWorkerIssue(
    workerName: string,
    issueType: string,
    message: string | null,
    severity: Severity = "warning",
    details: Record<string, unknown> = {},
    options: { createdAt?: DateInput } = {},
  ): string | null {
    const row = this.#record(
      WORKER_ISSUES,
      "worker issue",
      () => issueRow(workerName, issueType, message, severity, details, options.createdAt),
    );
    return row?.id ?? null;
  }

  /** A system event in public.monitoring_events. */
  recordEvent(
    eventType: string,
    details?: Record<string, unknown>,
    options: { createdAt?: DateInput } = {},
  ): boolean {
    return this.#record(
      MONITORING_EVENTS,
      "event",
      () => eventRow(eventType, details, options.createdAt),
    ) !==
      null;
  }

  /**
   * Times `call` and records it as an API call. A Response's status is taken
   * as the status code (success = 2xx/3xx); a call that throws is recorded
   * as failed and the error re-thrown: it is the function's, not monitoring's.
   */
  async timeApiCall<T>(
    apiName: string,
    call: () => Promise<T>,
    options: TimeApiCallOptions = {},
  ): Promise<T> {
    const started = performance.now();
    let result: T;
    try {
      result = await call();
    } catch (error) {
      this.recordApiCall(apiName, performance.now() - started, false, options);
      throw error;
    }
    const statusCode = result instanceof Response ? result.status : undefined;
    const success = statusCode === undefined || statusCode < 400;
    this.recordApiCall(apiName, performance.now() - started, success, { ...options, statusCode });
    return result;
  }

  /**
   * Writes everything buffered: one bulk upsert per table. True when nothing
   * is left pending. Concurrent calls run one after the other.
   */
  flush(): Promise<boolean> {
    const next = this.#flushing.then(() => this.#flushBuffered());
    this.#flushing = next.catch(() => false);
    return next;
  }

  /**
   * Flushes at the end of an invocation without holding up the response:
   * under Supabase's edge runtime the flush is handed to
   * `EdgeRuntime.waitUntil` and this resolves at once; elsewhere (deno serve,
   * tests) it awaits the flush. Never throws, even in strict mode.
   */
  finish(): Promise<void> {
    const flushed = this.flush().then(() => undefined, (error) => {
      this.#log.error(`monitoring flush failed: ${describe(error)}`);
    });
    if (typeof EdgeRuntime !== "undefined" && typeof EdgeRuntime?.waitUntil === "function") {
      EdgeRuntime.waitUntil(flushed);
      return Promise.resolve();
    }
    return flushed;
  }

  async #flushBuffered(): Promise<boolean> {
    const tables = [...this.#buffer.entries()];
    this.#buffer.clear();
    let failures: string[] = [];
    for (const [table, rows] of tables) {
      failures = failures.concat(await this.#write(table, rows));
    }
    if (failures.length === 0) return true;
    const message =
      `monitoring rows not written (${this.#pending} pending, ${this.#stats.rejected} rejected): ${
        failures.join("; ")
      }`;
    if (this.strict) throw new MonitoringError(message);
    this.#log.error(message);
    return false;
  }

  /** Writes one table's rows; a batch refused for good is halved to isolate the bad row. */
  async #write(table: TableRef, rows: Row[]): Promise<string[]> {
    const result = await upsertRows(this.#client!, this.#retry, table, rows);
    if (result.ok) {
      this.#pending -= rows.length;
      this.#stats.written += rows.length;
      return [];
    }
    const reason = `${table.schema}.${table.name}: ${failureText(result.failure)}`;
    if (isTransient(result.failure)) {
      // Not refused, just not delivered: keep them (same ids) for the next flush.
      const kept = this.#buffer.get(table) ?? [];
      this.#buffer.set(table, rows.concat(kept));
      return [reason];
    }
    if (rows.length === 1 || !isRowLevel(result.failure)) {
      this.#pending -= rows.length;
      this.#stats.rejected += rows.length;
      return [reason];
    }
    const half = Math.ceil(rows.length / 2);
    return [
      ...await this.#write(table, rows.slice(0, half)),
      ...await this.#write(table, rows.slice(half)),
    ];
  }

  /**
   * The spec's checkSystemHealth: `get_system_health()` through RPC. Never
   * throws; when the check cannot be made (or the answer is not a health
   * document) the result is `{ overall_status: "unknown", error }`.
   */
  async checkSystemHealth(): Promise<SystemHealth> {
    if (this.#client === null) return this.#unknownHealth("monitoring is not configured");
    const client = this.#client;
    const result = await withRetry<unknown>(
      this.#retry,
      (signal) => client.rpc("get_system_health").abortSignal(signal),
    );
    if (!result.ok) return this.#unknownHealth(failureText(result.failure));
    const data = result.data as SystemHealth | null;
    if (!data || typeof data !== "object" || !REPORTED_STATUSES.has(data.overall_status)) {
      return this.#unknownHealth(
        "get_system_health answered with something that is not a health document",
      );
    }
    return data;
  }

  #unknownHealth(error: string): SystemHealth {
    this.#log.error(`system health check failed: ${error}`);
    return { overall_status: "unknown", error };
  }
}
