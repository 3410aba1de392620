-- Alert silences and maintenance windows.
--
-- The alerter (supabase_monitoring.alerting.silences) reads the active rows on
-- every run and holds back the notifications they match; a held notification
-- is recorded in public.monitoring_events (event_type 'alert_silenced') and goes
-- out once the silence is over if the alert still holds. Two kinds of row:
--
-- * one-off:   starts_at .. ends_at ("deploy tonight, 20:00-21:00");
-- * recurring: recurrence_days + window_start .. window_end in time_zone, from
--              starts_at until ends_at (open-ended when null), e.g. Sundays
--              02:00-04:00 UTC. A window whose end is not after its start runs
--              past midnight into the next day.
--
-- A silence matches an alert when every matcher it sets matches: rule_name
-- (exact), alert_key (exact, or a glob with *), labels (each key/value pair
-- present among the alert's labels). At least one matcher is required, so a
-- typo cannot silence everything. "Expire" sets expired_at: the row stays as
-- history. Whether a silence is active is decided in one place, the Python
-- reader, so the rule has no twin here.
--
-- This file runs after the release's access sweep, so it revokes and grants
-- on its own table explicitly.

create table monitoring.alert_silences (
  id               uuid primary key default gen_random_uuid(),
  created_at       timestamptz not null default now(),
  created_by       text not null,
  comment          text not null,
  rule_name        text,
  alert_key        text,
  labels           jsonb not null default '{}'::jsonb,
  starts_at        timestamptz not null default now(),
  ends_at          timestamptz,
  recurrence_days  smallint[],
  window_start     time,
  window_end       time,
  time_zone        text not null default 'UTC',
  expired_at       timestamptz,
  constraint alert_silences_created_by_not_blank check (length(btrim(created_by)) between 1 and 200),
  constraint alert_silences_comment_not_blank check (length(btrim(comment)) between 1 and 2000),
  constraint alert_silences_labels_is_object check (jsonb_typeof(labels) = 'object'),
  constraint alert_silences_has_matcher
    check (rule_name is not null or alert_key is not null or labels <> '{}'::jsonb),
  constraint alert_silences_ends_after_start check (ends_at is null or ends_at > starts_at),
  constraint alert_silences_one_off_or_recurring check (
    case
      when recurrence_days is null
        then window_start is null and window_end is null and ends_at is not null
      else cardinality(recurrence_days) between 1 and 7
        and recurrence_days <@ array[1, 2, 3, 4, 5, 6, 7]::smallint[]
        and window_start is not null and window_end is not null and window_start <> window_end
    end),
  constraint alert_silences_time_zone_not_blank check (length(btrim(time_zone)) between 1 and 64)
);
comment on table monitoring.alert_silences is
  'Silences and recurring maintenance windows for alerts; expired rows are kept as history.';
comment on column monitoring.alert_silences.recurrence_days is
  'ISO weekdays (1 = Monday .. 7 = Sunday) on which the window starts; null for a one-off silence.';

-- The alerter reads the rows not expired and not over yet on every run.
create index alert_silences_unexpired_idx
  on monitoring.alert_silences (ends_at) where expired_at is null;

-- RLS on; the service_role policy documents the intent (service_role bypasses
-- RLS anyway). Silences are expired, never deleted: no DELETE grant.
alter table monitoring.alert_silences enable row level security;
create policy alert_silences_service_role_all on monitoring.alert_silences
  as permissive for all to service_role using (true) with check (true);

revoke all on monitoring.alert_silences from public, anon, authenticated, service_role;
grant select, insert, update on monitoring.alert_silences to service_role;
