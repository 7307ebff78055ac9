"""Datasets: every one reduces to one index table (path, pid, camid, split, extras)."""
