"""Orchestration only: one workflow per business process, no I/O and no clocks.

Empty on purpose: the workflow sandbox imports this package afresh for every workflow run it
starts, so anything imported here is paid once per cycle. The worker's list is ``catalog``.
"""
