"""Path templates of the dataset layout (no heavy imports: build workers load this)."""

FORMAT_VERSION = "1.1"  # 1.1: label_differs_by_rule, translation_rule in info.json
DATA_PATH = "data/chunk-{chunk:03d}/file-{file:03d}.parquet"
VIDEO_PATH = "videos/chunk-{chunk:03d}/{clip_id}.mp4"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
CHART_PATH = "meta/labels.png"
QUARANTINE_PATH = "quarantine.jsonl"
FILES_PER_CHUNK = 1000
