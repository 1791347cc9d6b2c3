"""Pictures for people: evidence panels for alerts and change-map previews (matplotlib, Agg)."""
