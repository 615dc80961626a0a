"""Stage 2, the refiner: an LLM behind any OpenAI-compatible endpoint decides the pairs the guide
is unsure about. Prompting, answer validation, the client, the cache, gating and the embedded
local server each live in their own module; transforms/refine.py composes them into Beam."""
