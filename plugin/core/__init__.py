"""The pure core: ticket model, manifest, conditions, triggers, SLA arithmetic, note rendering.

Nothing here reads a clock, touches a socket or imports flask, rq, redis, zenpy or spacy.
"""
