"""Sending: one attempt on one connector, routing and failover, the Tasks worker, bulk, reconciliation."""
