"""The benchmark's targets (from the performance issue), printed next to the figures; --strict fails on a miss."""

TARGET_RATIO = 1.5  # connector records/s >= 1.5 x the floor's, same run, process start included
TARGET_RSS_MB = 120.0  # peak RSS of the connector process
TARGET_SCALING = 1.15  # peak RSS at the largest scaling size <= 1.15 x the smallest
TARGET_BACKFILL_REQUESTS = 13  # 365-day backfill with default settings
TARGET_BACKFILL_SLEEP = 0.0  # seconds of pacing sleep while under 60 requests/hour
