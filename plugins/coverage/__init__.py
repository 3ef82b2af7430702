"""Evacuation coverage: who reaches a safe shelter by road within each walking time, capacity-constrained
assignment, uncovered people, new shelter sites, and how fast teams and helicopters reach hazard points."""
