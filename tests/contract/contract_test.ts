/**
 * The shared row contract (cases.json), run against the Edge Function module.
 *
 * The pytest side (test_contract_python.py) runs the same cases against the
 * Python SDK. No network: the monitor's supabase-js client gets a fetch that
 * keeps each request and answers like PostgREST, so what is checked is what
 * would be sent, headers included.
 */

import assert from "node:assert/strict";
import { createClient } from "../../supabase/functions/_shared/monitoring/deps.ts";
import { EdgeMonitor, InvalidInputError } from "../../supabase/functions/_shared/monitoring/mod.ts";
import contract from "./cases.json" with { type: "json" };

type Args = Record<string, unknown>;
interface Case {
  name: string;
  call: string;
  args: Args;
  stored?: { table: string; row: Record<string, unknown> };
  refused?: string;
}
interface Sent {
  url: URL;
  headers: Headers;
  rows: Record<string, unknown>[];
}

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TIME_FIELDS: Record<string, string> = contract.time_fields;
const CONFLICT_KEYS: Record<string, string> = contract.conflict_keys;

/** Turns the contract's encodings into JavaScript values ($datetime stays text). */
function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value === null || typeof value !== "object") return value;
  const object = value as Record<string, unknown>;
  const [only] = Object.keys(object);
  if (Object.keys(object).length === 1) {
    const inner = object[only];
    if (only === "$number") return Number(inner);
    if (only === "$repeat") {
      const [text, times] = inner as [string, number];
      return text.repeat(times);
    }
    if (only === "$keys") {
      return Object.fromEntries(Array.from({ length: inner as number }, (_, i) => [`k${i}`, "v"]));
    }
    if (only === "$datetime") return inner;
    if (only === "$lone_surrogate_after") return `${inner}\ud800`;
  }
  return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, decode(item)]));
}

/** A monitor whose client records requests instead of sending them. */
function capturing(strict: boolean) {
  const sent: Sent[] = [];
  const logged: string[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    sent.push({
      url: new URL(request.url),
      headers: request.headers,
      rows: await request.json(),
    });
    return new Response(null, { status: 201 });
  };
  const client = createClient("http://contract.invalid", "contract-key", {
    global: { fetch },
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const logger = { error: (m: string) => logged.push(m), warn: (m: string) => logged.push(m) };
  return { monitor: new EdgeMonitor({ client, strict, logger }), sent, logged };
}

function record(monitor: EdgeMonitor, call: string, a: Args): unknown {
  switch (call) {
    case "record_metric":
      return monitor.recordMetric(a.name as string, a.value as number, a.tags as Args, {
        timestamp: a.timestamp as string,
      });
    case "record_processing_metric":
      return monitor.recordProcessingMetric(
        a.queue_name as string,
        a.processing_time_ms as number,
        a.success_count as number,
        a.error_count as number,
        {
          batchSize: a.batch_size as number,
          tags: a.tags as Args,
          timestamp: a.timestamp as string,
        },
      );
    case "record_api_call":
      return monitor.recordApiCall(
        a.api_name as string,
        a.duration_ms as number,
        a.success as boolean,
        {
          endpoint: a.endpoint as string,
          statusCode: a.status_code as number,
          tags: a.tags as Args,
          timestamp: a.timestamp as string,
        },
      );
    case "log_worker_issue":
      return monitor.logWorkerIssue(
        a.worker_name as string,
        a.issue_type as string,
        a.message as string,
        a.severity as "warning",
        a.details as Args,
        { createdAt: a.created_at as string },
      );
    case "record_event":
      return monitor.recordEvent(a.event_type as string, a.details as Args, {
        createdAt: a.created_at as string,
      });
  }
  throw new Error(`cases.json names an unknown call: ${call}`);
}

const cases = contract.cases as Case[];

for (const c of cases.filter((c) => c.stored)) {
  Deno.test(`contract: stored: ${c.name}`, async () => {
    const { monitor, sent } = capturing(true);
    const before = Date.now();
    const result = record(monitor, c.call, decode(c.args) as Args);
    assert.notEqual(result, false);
    assert.notEqual(result, null);
    assert.equal(await monitor.flush(), true);

    assert.equal(sent.length, 1);
    const [{ url, headers, rows }] = sent;
    const [schema, table] = c.stored!.table.split(".");
    assert.equal(url.pathname, `/rest/v1/${table}`);
    assert.equal(headers.get("content-profile"), schema);
    assert.equal(url.searchParams.get("on_conflict"), CONFLICT_KEYS[c.stored!.table]);
    assert.match(headers.get("prefer") ?? "", /resolution=ignore-duplicates/);
    assert.equal(rows.length, 1);

    const row = { ...rows[0] };
    const expected = decode(c.stored!.row) as Record<string, unknown>;
    const timeField = TIME_FIELDS[c.stored!.table];
    assert.match(row.id as string, UUID7);
    if (c.call === "log_worker_issue") assert.equal(result, row.id);
    delete row.id;
    const storedTime = Date.parse(row[timeField] as string);
    delete row[timeField];
    if (timeField in expected) {
      assert.equal(storedTime, Date.parse(expected[timeField] as string));
      delete expected[timeField];
    } else {
      assert.ok(
        storedTime >= before - 1000 && storedTime <= Date.now(),
        "event time taken at the call",
      );
    }
    assert.deepStrictEqual(row, expected);
  });
}

for (const c of cases.filter((c) => c.refused)) {
  Deno.test(`contract: refused (strict): ${c.name}`, async () => {
    const { monitor, sent } = capturing(true);
    assert.throws(
      () => record(monitor, c.call, decode(c.args) as Args),
      (error: unknown) => error instanceof InvalidInputError && error.field === c.refused,
    );
    assert.equal(await monitor.flush(), true);
    assert.equal(sent.length, 0);
  });

  Deno.test(`contract: dropped and counted (default): ${c.name}`, async () => {
    const { monitor, sent, logged } = capturing(false);
    const result = record(monitor, c.call, decode(c.args) as Args);
    assert.equal(result, c.call === "log_worker_issue" ? null : false);
    assert.deepStrictEqual(monitor.stats, {
      invalid: 1,
      written: 0,
      dropped: 0,
      rejected: 0,
      pending: 0,
    });
    assert.ok(logged.some((line) => line.includes(c.refused!)), logged.join("\n"));
    assert.equal(await monitor.flush(), true);
    assert.equal(sent.length, 0);
  });
}

Deno.test("contract: ids sort in recording order, one bulk upsert per table", async () => {
  const { monitor, sent } = capturing(true);
  for (let i = 0; i < 50; i++) monitor.recordMetric("ordered", i);
  monitor.recordEvent("ordered_done");
  assert.equal(await monitor.flush(), true);
  assert.deepStrictEqual(sent.map((s) => s.url.pathname), [
    "/rest/v1/pipeline_metrics",
    "/rest/v1/monitoring_events",
  ]);
  const ids = sent[0].rows.map((row) => row.id as string);
  assert.equal(new Set(ids).size, 50);
  assert.deepStrictEqual(ids, [...ids].sort());
  assert.deepStrictEqual(sent[0].rows.map((row) => row.metric_value), [...Array(50).keys()]);
});

Deno.test("contract: the harness decodes its encodings", () => {
  // A decoder that passed values through would make the refusals vacuous.
  assert.ok(Number.isNaN(decode({ $number: "NaN" })));
  assert.equal(decode({ $repeat: ["ab", 3] }), "ababab");
  assert.equal(Object.keys(decode({ $keys: 65 }) as object).length, 65);
  assert.equal((decode({ $lone_surrogate_after: "a" }) as string).isWellFormed(), false);
});
