"""Verification codes: generation and storage of codes, tokens, the request/check statements, progress."""
