"""Where a job runs. Each runtime is the only place that touches its part of the outside world."""
