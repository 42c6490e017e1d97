"""rivers code server: loads one code location, serves its snapshot and executes its runs."""
