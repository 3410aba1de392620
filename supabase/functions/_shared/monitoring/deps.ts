/**
 * The one place the module's external dependency is pinned (exact version,
 * `npm:` specifier, as Supabase's Edge Functions guide asks); deno.lock
 * records its integrity.
 */

export { createClient, type SupabaseClient } from "npm:@supabase/supabase-js@2.119.1";
