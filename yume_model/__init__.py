"""yume_model: see ARCHITECTURE.md."""
