"""The fleet simulator: recorded laptops moved through simulated days, through the real agent code
(evaluation, drift, outbox, HTTP delivery) against a real collector. Deterministic for a seed."""
