"""OpenCompass model classes of ours, one per backend, and the helpers they share."""
