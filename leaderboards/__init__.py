"""Published and measured Yume-Bench results: storage, rendering, regression checks."""

DIMENSION_LABELS = {
    "instruction_following": "IF",
    "subject_consistency": "SC",
    "background_consistency": "BC",
    "motion_smoothness": "MS",
    "aesthetic_quality": "AQ",
    "imaging_quality": "IQ",
}
