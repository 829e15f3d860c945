"""VM backends: where pod sandboxes and containers actually run."""
