"""``python -m supabase_monitoring.cli``."""

from .main import main

raise SystemExit(main())
