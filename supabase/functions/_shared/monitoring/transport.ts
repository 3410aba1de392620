/**
 * One bulk upsert of validated rows, with the Python SDK's retry rules:
 * transient failures (network, timeouts, 5xx gateways, PGRST000-003,
 * SQLSTATE 08/53/40001/40P01/57P0x) are retried with capped full-jitter
 * backoff; the same rows with the same ids are re-sent, and
 * `ON CONFLICT (id) DO NOTHING` makes a re-sent row a no-op.
 */

import type { SupabaseClient } from "./deps.ts";
import { describe } from "./errors.ts";
import type { Row, TableRef } from "./rows.ts";

export interface RetryPolicy {
  /** Attempts per request, the first included. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Per request; aborts a hung connection. */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 3,
  initialBackoffMs: 100,
  maxBackoffMs: 1000,
  timeoutMs: 5000,
};

/** What supabase-js answers with (its errors are values, not exceptions). */
export interface ApiFailure {
  status: number;
  code?: string;
  message?: string;
}

const TRANSIENT_STATUS = new Set([0, 408, 429, 502, 503, 504, 520]);
const TRANSIENT_CODE = /^(PGRST00[0-3]|08|53|40001$|40P01$|57P0)/;

export function isTransient(failure: ApiFailure): boolean {
  return TRANSIENT_STATUS.has(failure.status) || TRANSIENT_CODE.test(failure.code ?? "");
}

export function failureText(failure: ApiFailure): string {
  return `HTTP ${failure.status || "(no response)"} ${describe(failure)}`;
}

function backoff(policy: RetryPolicy, attempt: number): Promise<void> {
  const cap = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}

/** Runs `request` until it succeeds, fails for good, or attempts run out; never throws. */
export async function withRetry<T>(
  policy: RetryPolicy,
  request: (signal: AbortSignal) => PromiseLike<{ error: unknown; status: number; data?: T }>,
): Promise<{ ok: true; data: T | undefined } | { ok: false; failure: ApiFailure }> {
  let failure: ApiFailure = { status: 0, message: "no attempt made" };
  for (let attempt = 0; attempt < policy.maxAttempts; attempt++) {
    if (attempt > 0) await backoff(policy, attempt - 1);
    try {
      const result = await request(AbortSignal.timeout(policy.timeoutMs));
      if (!result.error) return { ok: true, data: result.data };
      const error = result.error as { code?: string; message?: string };
      failure = { status: result.status, code: error.code, message: error.message };
    } catch (thrown) {
      // A custom fetch, or a client built with throwOnError, may throw instead.
      failure = { status: 0, message: describe(thrown) };
    }
    if (!isTransient(failure)) break;
  }
  return { ok: false, failure };
}

/** One upsert of `rows` into `table` that ignores ids already stored. */
export function upsertRows(
  client: SupabaseClient,
  policy: RetryPolicy,
  table: TableRef,
  rows: Row[],
): ReturnType<typeof withRetry<unknown>> {
  return withRetry(policy, (signal) =>
    client.schema(table.schema).from(table.name)
      .upsert(rows, { onConflict: table.conflict, ignoreDuplicates: true })
      .abortSignal(signal));
}
