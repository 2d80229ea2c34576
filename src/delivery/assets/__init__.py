"""Stored masters: identifiers, the write order, uploads, and the sweep that repairs crashes."""
