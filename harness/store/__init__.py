"""The results store: its layout and names (harness.store.layout), and the versioned records
(harness.store.record) with their upgrade chain.

Imports harness.logs, harness.data, harness.edges, harness.spec and below.
"""
