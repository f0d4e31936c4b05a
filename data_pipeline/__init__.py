"""data_pipeline: see ARCHITECTURE.md."""
