"""Provider calls and credits of a six-breakpoint `<picture>` of one prompt.

    python bench/one_artwork.py

Starts `promptpix serve` (embedded PostgreSQL) drawing with the real google-genai
client against the fake Gemini (a paid provider, so every generation is charged),
requests one prompt at 16:9, 1:1, 4:3, 3:2, 9:16 and 21:9 with `fit=crop`, each at
dpr 1 and 2, and prints how many image calls the provider received and how many
credits were charged (`promptpix_credits_spent_total`). Run against another
checkout to compare: it uses that checkout's `src/` and harness.
"""

from __future__ import annotations

import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from harness.fake_gemini import API_KEY, FakeGemini  # noqa: E402 (after the sys.path lines above, so a plain `python bench/one_artwork.py` finds the repo)
from harness.processes import metric, start_serve  # noqa: E402 (as above)
from harness.urls import urlencode  # noqa: E402 (as above)

BOXES = {"16:9": (800, 450), "1:1": (600, 600), "4:3": (800, 600), "3:2": (900, 600), "9:16": (450, 800), "21:9": (840, 360)}
PROMPT = "a lighthouse on a cliff at dusk"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="promptpix-artwork-") as tmp, FakeGemini() as fake:
        env = {"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": API_KEY, "PROMPTPIX_GEMINI_BASE_URL": fake.url}
        served = start_serve(data_dir=Path(tmp) / "data", database_url=None, env=env)
        try:
            for name, (w, h) in BOXES.items():
                for dpr in (1, 2):
                    query = urlencode({"prompt": PROMPT, "w": w, "h": h, "fit": "crop", "dpr": dpr, "fm": "webp", "key": served.key_id})
                    with urllib.request.urlopen(f"{served.base}/g/demo?{query}", timeout=120) as response:
                        status = response.headers["x-cache-status"]
                        print(f"{name:>5} dpr {dpr}: {response.status} {status}")
            received = [r.stage for r in fake.received]
            credits = metric(served.base, "promptpix_credits_spent_total")
        finally:
            served.stop()
    print(f"requests: {2 * len(BOXES)}")
    print(f"provider image calls: {received.count('synthesize')} generations, {received.count('extend')} extensions")
    print(f"credits charged: {credits:g}")


if __name__ == "__main__":
    main()
