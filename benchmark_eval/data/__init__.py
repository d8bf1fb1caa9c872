"""Data roots: check what OpenCompass will read, convert raw sources into its layouts."""
