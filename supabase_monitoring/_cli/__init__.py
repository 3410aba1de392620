"""Private helpers of :mod:`supabase_monitoring.cli`."""
