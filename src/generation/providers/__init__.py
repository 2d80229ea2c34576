"""Image providers: one Protocol, several implementations (offline, gemini)."""
