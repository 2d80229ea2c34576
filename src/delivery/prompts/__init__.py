"""From a prompt to a stored master: targets, claims, on-demand generation, billing, flows."""
