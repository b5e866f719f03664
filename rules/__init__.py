"""Domain rules: pure functions of the programs' data, with no I/O and no clock."""
