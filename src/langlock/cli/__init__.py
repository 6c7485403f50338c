"""The `langlock` command line: a thin layer over the library."""
