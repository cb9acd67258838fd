"""The one place that knows how RQ stores jobs, and the contract between jobfleet's client and workers.

jobfleet writes RQ's own records so that ``rq info``, rq-dashboard and a plain ``rq worker``
keep working; the workers also move jobs with Lua scripts and batched pipelines RQ does not
have. Everything that depends on RQ's storage layout lives in this package, and nowhere else:

- :mod:`.keys`: RQ's key and member formats (job hash, queue list, registries, result
  streams, the started-registry member ``<job id>:<worker name>``) and jobfleet's own keys;
- :mod:`.scripts`: the Lua scripts (``scripts/*.lua``, read at import) and their typed arguments;
- :mod:`.markers`: what jobfleet keeps in a job's ``meta`` (losses, and why a job failed when
  the reason is not the job's own exception) as typed values, never text parsed back;
- :mod:`.writes`: a batch's success and failure writes, putting held jobs back, failing a job
  that never ran; :mod:`.state`: the RQ job attributes a worker sets in memory;
- :mod:`.results`: reading outcomes back from RQ's result streams; :mod:`.batch`: enqueueing
  many jobs from one template; :mod:`.reads`: read-only counts for ``workers status``.

Moving to a new RQ major is a change to this package (and to its tests).
"""
