"""Abuse defenses: rate limits, number checks, the pumping monitor, spend caps, the security log."""
