"""OpenCompass model classes of ours (referenced by dotted path from generated configs)."""
