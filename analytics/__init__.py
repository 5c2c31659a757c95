"""Analytics: pure functions on readings frames — savings (M&V), tariffs, carbon, KPIs,
anomalies and recommendations."""
