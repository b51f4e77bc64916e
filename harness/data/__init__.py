"""Datasets: the COCO 2017 layout check (the COCO file, its rules, the image check), the synthetic dataset, and
the fingerprint a run records.

Imports harness.spec, harness.edges and below.
"""
