"""Scheduled operation: ``mmfeat run JOB.yaml`` runs a job file's extract, train and predict steps in
dependency order under a per-job lock, and writes one job report (see ``mmfeat.jobs.runner``)."""
