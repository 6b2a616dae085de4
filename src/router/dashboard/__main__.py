"""``python -m router.dashboard > deploy/grafana/dashboards/router.json``"""

from router.dashboard.grafana import main

raise SystemExit(main())
