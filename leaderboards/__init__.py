"""leaderboards: see ARCHITECTURE.md."""
