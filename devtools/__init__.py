"""The developers' tools, on top of the product (which never imports them): ``make run``'s stack
(:mod:`devtools.stack`), ``make simulate`` (:mod:`devtools.simulate`), and the product embedded in
one process for the tests and the benchmarks (:mod:`devtools.embedded`)."""
