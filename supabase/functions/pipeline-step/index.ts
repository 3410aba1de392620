/**
 * Example Edge Function: one pipeline step that sends a batch of items to an
 * upstream API and records what happened with the monitoring module.
 *
 * POST {"queue": "artist_discovery", "items": ["a", "b"]} → the upstream
 * (UPSTREAM_API_URL, optional bearer UPSTREAM_API_KEY) answers
 * {"results": [{"ok": true}, ...]}, one result per item. Recorded: the API
 * call (`api_call`, timed), the batch (`queue_processing`, successes and
 * errors from the results), and a worker issue when the upstream fails.
 * Monitoring never decides the response: if the monitoring API is down, the
 * step still answers.
 *
 * Runs under Supabase's edge runtime (`supabase functions deploy
 * pipeline-step`) and under `deno serve` (the default export is a fetch
 * handler for both).
 */

import { EdgeMonitor } from "../_shared/monitoring/mod.ts";

const WORKER = "pipeline-step";
const UPSTREAM_API = "upstream";

interface StepInput {
  queue: string;
  items: unknown[];
}

function parseInput(body: unknown): StepInput | string {
  if (!body || typeof body !== "object") return "body must be a JSON object";
  const { queue, items } = body as Record<string, unknown>;
  if (typeof queue !== "string" || queue.trim() === "") return "queue must be a non-empty string";
  if (!Array.isArray(items) || items.length === 0) return "items must be a non-empty array";
  return { queue, items };
}

function json(status: number, body: unknown): Response {
  return Response.json(body, { status });
}

async function callUpstream(monitor: EdgeMonitor, input: StepInput): Promise<Response> {
  const url = Deno.env.get("UPSTREAM_API_URL");
  if (!url) throw new Error("UPSTREAM_API_URL is not set");
  const key = Deno.env.get("UPSTREAM_API_KEY");
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  return await monitor.timeApiCall(
    UPSTREAM_API,
    () =>
      fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ items: input.items }),
        signal: AbortSignal.timeout(10_000),
      }),
    { endpoint: new URL(url).pathname, tags: { queue: input.queue } },
  );
}

export async function handleRequest(request: Request): Promise<Response> {
  if (request.method !== "POST") return json(405, { error: "POST a JSON batch" });
  const input = parseInput(await request.json().catch(() => null));
  if (typeof input === "string") return json(400, { error: input });

  const monitor = EdgeMonitor.fromEnv();
  const started = performance.now();
  try {
    let upstream: Response;
    try {
      upstream = await callUpstream(monitor, input);
    } catch (error) {
      monitor.logWorkerIssue(WORKER, "upstream_unreachable", String(error), "error", {
        queue: input.queue,
        batch_size: input.items.length,
      });
      return json(502, { error: "upstream unreachable" });
    }
    if (!upstream.ok) {
      await upstream.body?.cancel();
      monitor.logWorkerIssue(
        WORKER,
        "upstream_error",
        `upstream answered ${upstream.status}`,
        "error",
        {
          queue: input.queue,
          status_code: upstream.status,
        },
      );
      return json(502, { error: `upstream answered ${upstream.status}` });
    }
    const { results } = await upstream.json().catch(() => ({})) as { results?: { ok?: boolean }[] };
    const succeeded = (results ?? []).filter((result) => result?.ok === true).length;
    const failed = input.items.length - succeeded;
    monitor.recordProcessingMetric(input.queue, performance.now() - started, succeeded, failed);
    return json(200, { queue: input.queue, succeeded, failed });
  } finally {
    // EdgeRuntime.waitUntil under Supabase (the response is not held up); awaited under deno serve.
    await monitor.finish();
  }
}

export default { fetch: handleRequest } satisfies Deno.ServeDefaultExport;
