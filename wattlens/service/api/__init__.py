"""The HTTP API of ``wattlens run``: routes (:mod:`.app`), request and row models
(:mod:`.models`), bearer tokens and scopes (:mod:`.auth`) and the ``[api]`` section
(:mod:`.settings`)."""
