/**
 * What the Deno suites need from the local stack (`make stack`): its
 * environment, a service-role client to read back what was written, and
 * names no other test uses. A missing variable FAILS the suite: a silently
 * skipped integration test looks exactly like a passing one.
 */

import { createClient, type SupabaseClient } from "../_shared/monitoring/deps.ts";

export interface StackEnv {
  url: string;
  serviceRoleKey: string;
  anonKey: string;
}

export function stackEnv(): StackEnv {
  const names = ["SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_ANON_KEY"];
  const missing = names.filter((name) => !Deno.env.get(name));
  if (missing.length) {
    throw new Error(
      `${missing.join(", ")} not set: run with the local stack's environment ` +
        '(eval "$(scripts/local-stack.sh env)", or make edge-test)',
    );
  }
  return {
    url: Deno.env.get("SUPABASE_URL")!,
    serviceRoleKey: Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")!,
    anonKey: Deno.env.get("SUPABASE_ANON_KEY")!,
  };
}

export function serviceClient(env: StackEnv, fetch?: typeof globalThis.fetch): SupabaseClient {
  return createClient(env.url, env.serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: fetch ? { fetch } : {},
  });
}

export function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/** Rows of a monitoring table matching `filters` (PostgREST column or JSON-path names). */
export async function rowsWhere(
  client: SupabaseClient,
  table: string,
  filters: Record<string, string>,
  schema = "monitoring",
): Promise<Record<string, unknown>[]> {
  let query = client.schema(schema).from(table).select("*");
  for (const [column, value] of Object.entries(filters)) query = query.eq(column, value);
  const { data, error } = await query;
  if (error) throw new Error(`reading ${schema}.${table}: ${error.message}`);
  return data;
}

/** A loopback port nothing listens on (bound, then released). */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
