/**
 * The monitoring module against the real local stack (PostgREST behind the
 * /rest/v1 gateway, the project's migrations): rows land exactly once,
 * health comes through RPC, and a monitoring API that is down or refuses the
 * key never throws into the function.
 */

import assert from "node:assert/strict";
import { EdgeMonitor, MonitoringError } from "../_shared/monitoring/mod.ts";
import { closedPort, rowsWhere, serviceClient, stackEnv, unique } from "./stack.ts";

const env = stackEnv();
const reader = serviceClient(env);
const FAST_RETRY = { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20, timeoutMs: 3000 };

function capturedLog() {
  const lines: string[] = [];
  return {
    lines,
    logger: { error: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) },
  };
}

/** A fetch that delivers requests but loses the answers while `lose` is true. */
function lossyFetch() {
  const state = { lose: true, lost: 0, sent: 0 };
  const fetchFn = async (input: RequestInfo | URL, init?: RequestInit) => {
    state.sent++;
    const response = await fetch(input, init);
    if (!state.lose) return response;
    await response.body?.cancel();
    state.lost++;
    throw new TypeError("connection reset after the request was sent");
  };
  return { state, fetchFn };
}

Deno.test("stack: a flush whose answers were lost, retried, writes every row exactly once", async () => {
  const queue = unique("edge-once");
  const { state, fetchFn } = lossyFetch();
  const { lines, logger } = capturedLog();
  const monitor = new EdgeMonitor({
    client: serviceClient(env, fetchFn),
    retry: FAST_RETRY,
    logger,
  });
  monitor.recordProcessingMetric(queue, 12.5, 9, 1);
  monitor.recordApiCall("spotify", 80, true, { statusCode: 200, tags: { queue } });
  const issueId = monitor.logWorkerIssue(queue, "rate_limit", "429", "error", { queue });
  monitor.recordEvent("edge_once", { queue });

  // Every attempt reaches the database, no answer comes back: nothing is lost, all stays pending.
  assert.equal(await monitor.flush(), false);
  assert.equal(state.lost, 3 * FAST_RETRY.maxAttempts);
  assert.deepStrictEqual(monitor.stats, {
    invalid: 0,
    written: 0,
    dropped: 0,
    rejected: 0,
    pending: 4,
  });
  assert.ok(lines.some((line) => line.includes("not written")));

  state.lose = false;
  assert.equal(await monitor.flush(), true);
  assert.deepStrictEqual(monitor.stats, {
    invalid: 0,
    written: 4,
    dropped: 0,
    rejected: 0,
    pending: 0,
  });

  const metrics = await rowsWhere(reader, "pipeline_metrics", { "tags->>queue": queue });
  assert.deepStrictEqual(metrics.map((row) => row.metric_name).sort(), [
    "api_call",
    "queue_processing",
  ]);
  const processing = metrics.find((row) => row.metric_name === "queue_processing")!;
  assert.deepStrictEqual(processing.tags, {
    queue,
    success_count: 9,
    error_count: 1,
    batch_size: 10,
  });
  assert.equal(processing.metric_value, 12.5);
  const issues = await rowsWhere(reader, "worker_issues", { worker_name: queue });
  assert.deepStrictEqual(issues.map((row) => row.id), [issueId]);
  const events = await rowsWhere(
    reader,
    "monitoring_events",
    { "details->>queue": queue },
    "public",
  );
  assert.equal(events.length, 1);
  assert.equal(events[0].event_type, "edge_once");
});

Deno.test("stack: one bulk upsert per table at flush", async () => {
  const queue = unique("edge-bulk");
  const posts: string[] = [];
  const counting = (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (request.method === "POST") posts.push(new URL(request.url).pathname);
    return fetch(request);
  };
  const monitor = new EdgeMonitor({ client: serviceClient(env, counting), strict: true });
  for (let i = 0; i < 25; i++) monitor.recordMetric("edge_bulk", i, { queue });
  monitor.logWorkerIssue(queue, "slow", null);
  assert.equal(await monitor.flush(), true);
  assert.deepStrictEqual(posts, ["/rest/v1/pipeline_metrics", "/rest/v1/worker_issues"]);
  const rows = await rowsWhere(reader, "pipeline_metrics", { "tags->>queue": queue });
  assert.deepStrictEqual(
    rows.map((row) => row.metric_value).sort((a, b) => Number(a) - Number(b)),
    [
      ...Array(25).keys(),
    ],
  );
});

Deno.test("stack: timeApiCall records the status, and a failed call as success=false", async () => {
  const queue = unique("edge-timed");
  const monitor = new EdgeMonitor({ client: reader, strict: true });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("busy", { status: 503 }),
  );
  try {
    const response = await monitor.timeApiCall(
      "stub",
      () => fetch(`http://127.0.0.1:${server.addr.port}/busy`),
      { endpoint: "/busy", tags: { queue } },
    );
    assert.equal(await response.text(), "busy");
    await assert.rejects(
      monitor.timeApiCall("stub", () => Promise.reject(new Error("boom")), { tags: { queue } }),
      /boom/,
    );
  } finally {
    await server.shutdown();
  }
  assert.equal(await monitor.flush(), true);
  const rows = await rowsWhere(reader, "pipeline_metrics", { "tags->>queue": queue });
  const tags = rows.map((row) => row.tags as Record<string, string>)
    .sort((a, b) => (a.endpoint ?? "").localeCompare(b.endpoint ?? ""));
  assert.deepStrictEqual(tags, [
    { queue, api: "stub", success: "false" },
    { queue, api: "stub", success: "false", endpoint: "/busy", status_code: "503" },
  ]);
});

Deno.test("stack: finish() hands the flush to EdgeRuntime.waitUntil when it exists", async () => {
  const queue = unique("edge-wait");
  const handed: Promise<unknown>[] = [];
  const global = globalThis as { EdgeRuntime?: unknown };
  global.EdgeRuntime = { waitUntil: (promise: Promise<unknown>) => handed.push(promise) };
  try {
    const monitor = new EdgeMonitor({ client: reader });
    monitor.recordMetric("edge_wait", 1, { queue });
    await monitor.finish();
    assert.equal(handed.length, 1);
    assert.equal(monitor.stats.written, 0, "finish() waited for the write");
    await handed[0];
    assert.equal(monitor.stats.written, 1);
  } finally {
    delete global.EdgeRuntime;
  }
  assert.equal((await rowsWhere(reader, "pipeline_metrics", { "tags->>queue": queue })).length, 1);
});

Deno.test("stack: checkSystemHealth reads get_system_health through RPC", async () => {
  const health = await new EdgeMonitor({ client: reader, strict: true }).checkSystemHealth();
  assert.ok(
    ["healthy", "warning", "critical"].includes(health.overall_status),
    health.overall_status,
  );
  assert.equal(health.error, undefined);
  for (const part of ["queue_health", "processing_health", "worker_health", "timestamp"]) {
    assert.ok(part in health, `${part} missing from ${JSON.stringify(health)}`);
  }
});

Deno.test("stack: an unreachable monitoring API never throws and never logs the key", async () => {
  const { lines, logger } = capturedLog();
  const monitor = new EdgeMonitor({
    url: `http://127.0.0.1:${closedPort()}`,
    serviceRoleKey: env.serviceRoleKey,
    retry: FAST_RETRY,
    logger,
  });
  assert.equal(monitor.recordApiCall("spotify", 10, true), true);
  assert.equal(monitor.logWorkerIssue("w", "t", "m") === null, false);
  assert.equal(await monitor.flush(), false);
  await monitor.finish();
  assert.deepStrictEqual(monitor.stats, {
    invalid: 0,
    written: 0,
    dropped: 0,
    rejected: 0,
    pending: 2,
  });
  const health = await monitor.checkSystemHealth();
  assert.equal(health.overall_status, "unknown");
  assert.match(health.error ?? "", /no response/);
  assert.ok(lines.length >= 2);
  assert.ok(lines.every((line) => !line.includes(env.serviceRoleKey)), "key in a log line");

  const strict = new EdgeMonitor({
    url: `http://127.0.0.1:${closedPort()}`,
    serviceRoleKey: env.serviceRoleKey,
    retry: FAST_RETRY,
    strict: true,
  });
  strict.recordMetric("m", 1);
  await assert.rejects(strict.flush(), MonitoringError);
});

Deno.test("stack: a key without access is rejected once, not retried or split, and does not throw", async () => {
  let posts = 0;
  const counting = (input: RequestInfo | URL, init?: RequestInit) => {
    posts++;
    return fetch(input, init);
  };
  const { lines, logger } = capturedLog();
  const anon = serviceClient({ ...env, serviceRoleKey: env.anonKey }, counting);
  const monitor = new EdgeMonitor({ client: anon, logger });
  for (let i = 0; i < 8; i++) monitor.recordMetric("edge_denied", i);
  assert.equal(await monitor.flush(), false);
  assert.equal(posts, 1);
  assert.deepStrictEqual(monitor.stats, {
    invalid: 0,
    written: 0,
    dropped: 0,
    rejected: 8,
    pending: 0,
  });
  assert.ok(lines.every((line) => !line.includes(env.anonKey)));
  const health = await monitor.checkSystemHealth();
  assert.equal(health.overall_status, "unknown");
});

Deno.test("stack: missing configuration is logged, rows are counted as dropped, nothing throws", async () => {
  const { lines, logger } = capturedLog();
  const monitor = new EdgeMonitor({ url: undefined, serviceRoleKey: undefined, logger });
  assert.equal(monitor.recordMetric("m", 1), false);
  assert.equal(await monitor.flush(), true);
  assert.equal(monitor.stats.dropped, 1);
  assert.equal((await monitor.checkSystemHealth()).overall_status, "unknown");
  assert.match(lines[0], /SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY not set/);
  assert.throws(() => new EdgeMonitor({ strict: true }), MonitoringError);
});
