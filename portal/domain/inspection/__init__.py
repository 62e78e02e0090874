"""Inspections and the register of places (issue 22).

- ``register``, ``census``: the register of places (底数): finding, editing and merging
  units, importing a village's census, coverage per village and venue type.
- ``checklists``, ``rounds``: checklists as versioned data; inspection rounds (排查), their
  tasks, the inspector's result, and the case a finding opens.
- ``draws``: random checks (双随机): weighted, reproducible draws and the publication of
  their results (一公开).
- ``field``: hazards filed from the field by grid inspectors and officers.
- ``warnings``: risk warnings (风险预警提示) on the public site and by SMS.
- ``selfcheck``: units' self-checks and public commitments through one-time codes.
- ``history``: importing an existing hazard ledger with its real dates.
"""
