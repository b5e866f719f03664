"""``python -m benchmarks`` (``make bench``): every benchmark on both databases, one table."""

from benchmarks.suite import main

main()
