"""Parts the fraud and recommender apps share: model folders, egresses."""
