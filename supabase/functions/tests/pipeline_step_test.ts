/**
 * The example function pipeline-step over HTTP: its handler runs under
 * `deno serve` on loopback (Supabase's edge runtime is not available here),
 * the upstream API it calls is a stub in this test, and its rows are read
 * back from the local stack.
 */

import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { closedPort, rowsWhere, serviceClient, stackEnv, unique } from "./stack.ts";

const env = stackEnv();
const reader = serviceClient(env);
const ENTRY = fromFileUrl(new URL("../pipeline-step/index.ts", import.meta.url));
const REPO = fromFileUrl(new URL("../../../", import.meta.url));

/** Upstream stub: one result per item, `ok` unless the item is "bad"; 503 for a "busy" batch. */
function startUpstream() {
  const seen: { authorization: string | null; items: unknown[] }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const { items } = await request.json() as { items: unknown[] };
    seen.push({ authorization: request.headers.get("authorization"), items });
    if (items.includes("busy")) return new Response("try later", { status: 503 });
    return Response.json({ results: items.map((item) => ({ ok: item !== "bad" })) });
  });
  return { seen, server, url: `http://127.0.0.1:${server.addr.port}/v1/enrich` };
}

/** `deno serve` on the function's entry point; resolves once it says where it listens. */
async function serveFunction(extraEnv: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--allow-net",
      "--allow-env",
      ENTRY,
    ],
    cwd: REPO,
    env: extraEnv,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  // A server that never says where it listens is killed, which ends the loop below.
  const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
  let base: string | undefined;
  while (base === undefined) {
    const { value, done } = await stderr.read();
    if (done) {
      await child.status;
      throw new Error(`deno serve exited before listening:\n${output.join("")}`);
    }
    output.push(value);
    base = output.join("").match(/Listening on (http:\/\/127\.0\.0\.1:\d+)\//)?.[1];
  }
  clearTimeout(deadline);
  const drained = Promise.all([
    (async () => {
      for (;;) if ((await stderr.read()).done) return;
    })(),
    child.stdout.cancel(),
  ]);
  return {
    base,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await drained;
    },
  };
}

async function post(base: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}/pipeline-step`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

Deno.test("pipeline-step: a batch is sent upstream and its API call and batch rows land once", async () => {
  const upstream = startUpstream();
  const fn = await serveFunction({
    SUPABASE_URL: env.url,
    SUPABASE_SERVICE_ROLE_KEY: env.serviceRoleKey,
    UPSTREAM_API_URL: upstream.url,
    UPSTREAM_API_KEY: "upstream-test-key",
  });
  try {
    const queue = unique("edge-step");
    const answer = await post(fn.base, { queue, items: ["a", "bad", "c"] });
    assert.deepStrictEqual(answer, { status: 200, body: { queue, succeeded: 2, failed: 1 } });
    assert.deepStrictEqual(upstream.seen, [{
      authorization: "Bearer upstream-test-key",
      items: ["a", "bad", "c"],
    }]);

    // Under deno serve the flush is awaited before the response: the rows are there now.
    const rows = await rowsWhere(reader, "pipeline_metrics", { "tags->>queue": queue });
    const byName = Object.fromEntries(rows.map((row) => [row.metric_name, row]));
    assert.equal(rows.length, 2);
    assert.deepStrictEqual(byName.queue_processing.tags, {
      queue,
      success_count: 2,
      error_count: 1,
      batch_size: 3,
    });
    assert.deepStrictEqual(byName.api_call.tags, {
      queue,
      api: "upstream",
      success: "true",
      endpoint: "/v1/enrich",
      status_code: "200",
    });
    assert.ok(Number(byName.api_call.metric_value) >= 0);

    const busy = unique("edge-step-busy");
    assert.equal((await post(fn.base, { queue: busy, items: ["busy"] })).status, 502);
    const [call] = await rowsWhere(reader, "pipeline_metrics", { "tags->>queue": busy });
    assert.deepStrictEqual(
      [
        call.metric_name,
        (call.tags as Record<string, string>).success,
        (call.tags as Record<string, string>).status_code,
      ],
      ["api_call", "false", "503"],
    );
    const issues = await rowsWhere(reader, "worker_issues", { "details->>queue": busy });
    assert.deepStrictEqual(
      issues.map((row) => [row.worker_name, row.issue_type, row.severity, row.resolved]),
      [["pipeline-step", "upstream_error", "error", false]],
    );

    assert.equal((await post(fn.base, { queue: "", items: [] })).status, 400);
  } finally {
    await fn.stop();
    await upstream.server.shutdown();
  }
});

Deno.test("pipeline-step: with the monitoring API unreachable the step still answers", async () => {
  const upstream = startUpstream();
  const fn = await serveFunction({
    SUPABASE_URL: `http://127.0.0.1:${closedPort()}`,
    SUPABASE_SERVICE_ROLE_KEY: env.serviceRoleKey,
    UPSTREAM_API_URL: upstream.url,
  });
  try {
    const queue = unique("edge-step-down");
    const answer = await post(fn.base, { queue, items: ["a", "b"] });
    assert.deepStrictEqual(answer, { status: 200, body: { queue, succeeded: 2, failed: 0 } });
    assert.equal(upstream.seen.length, 1);
    assert.equal(upstream.seen[0].authorization, null);
  } finally {
    await fn.stop();
    await upstream.server.shutdown();
  }
});
