"""What the user reads: terminal tables, report files and plots, CI outputs (JUnit, markdown), progress bars.

Imports harness.verdict and below.
"""
