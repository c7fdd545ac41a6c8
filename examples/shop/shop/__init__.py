"""A small FastAPI shop used as perfd's demo workload."""
