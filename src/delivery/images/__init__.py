"""Serving pixels: URL params, presets, the transform, variant caches, the URLs handed out."""
