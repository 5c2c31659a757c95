"""The always-on service behind ``wattlens run``: the job scheduler (:mod:`.scheduler`, on the
wall clock or a simulated one), its ``[jobs]`` settings (:mod:`.settings`), the supervisor that
keeps each role running (:mod:`.supervisor`); the job-run history is kept in the store
(:mod:`wattlens.store.jobruns`).

An entry-point layer like :mod:`wattlens.cli`: it wires the layers below together but takes
the slices of the configuration it needs, never the ``Config`` (which imports its settings).
"""
