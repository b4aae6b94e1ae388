"""The built-in offline assistant: deterministic command parsing behind tframex's model seam."""
