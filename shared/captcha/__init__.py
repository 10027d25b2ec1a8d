"""The slider CAPTCHA engine.

    puzzle     draws a challenge: procedural background, jigsaw piece, real notch + 2 decoys
    pow        proof of work: sha256(salt ":" nonce) with N leading zero bits
    track      is this drag (or these key presses) plausibly a person's?
    failures   why an answer was refused: one reason per rule, counted and logged
    store      Redis: charge the per-address limit and store the answer; take it out once
    service    the two use cases behind POST /captcha/request and POST /captcha/verify

Only `service` talks to the others and to Redis; the HTTP function calls `service` alone.
The clock and the RNG come from the `Context` (the OS CSPRNG in production, seeded in tests).
"""
