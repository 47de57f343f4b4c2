"""Statistics over alert episodes (statistics.py, query.py) and Prometheus metrics (metrics.py)."""
