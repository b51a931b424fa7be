
r-3bob