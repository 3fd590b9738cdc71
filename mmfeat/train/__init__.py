"""Training fusion models on feature sets from the store: joint (fused branches) and sequential (stacked stages)."""
