"""The always-on service behind ``wattlens run``: the job scheduler (:mod:`.scheduler`), its
``[jobs]`` settings (:mod:`.settings`), the job-run history kept in the store
(:mod:`.history`) and the supervisor that keeps each role running (:mod:`.supervisor`).

An entry-point layer like :mod:`wattlens.cli`: it wires the layers below together but takes
the slices of the configuration it needs, never the ``Config`` (which imports its settings).
"""
