"""The ranking stage (protocol R2): target-aware CTR models that re-order recalled candidates."""
