"""domainteb.synth: persona-based synthetic query generation through any OpenAI-compatible LLM API.

Modules: ``personas`` (persona data + seeded sampling), ``prompts`` (safe prompt building),
``parse`` (strict output parser), ``cache`` (append-only response cache), ``ratelimit``
(token buckets), ``client`` (retrying async LLM client), ``passages`` (passage sources),
``filters`` (quality filters + hard negatives), ``generate`` (the job runner),
``llm_server`` (local llama.cpp server), ``stage`` (the ``domainteb synth`` stage).
"""
