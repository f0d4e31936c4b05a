"""Path templates of the dataset layout (no heavy imports: build workers load this)."""

# 1.1: label_differs_by_rule, translation_rule in info.json; 1.2: source_video relative to info.json's video_root
FORMAT_VERSION = "1.2"
VIDEO_ROOT_ENV = "YUMEBENCH_VIDEO_ROOT"  # where a moved dataset's source videos now live
DATA_PATH = "data/chunk-{chunk:03d}/file-{file:03d}.parquet"
VIDEO_PATH = "videos/chunk-{chunk:03d}/{clip_id}.mp4"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
CHART_PATH = "meta/labels.png"
QUARANTINE_PATH = "quarantine.jsonl"
FILES_PER_CHUNK = 1000
