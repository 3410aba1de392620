"""``python -m supabase_monitoring.cli``."""

from .app import main

raise SystemExit(main())
