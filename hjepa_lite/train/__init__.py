"""Pre-training: ``trainer`` (the loop), ``objective`` (what one step minimises),
``run_checkpoint`` (a run's ``last.pt``: loading and resuming), ``optimizer`` (parameter
groups, schedules), ``schedules``, ``loss``, ``context_loss`` (the loss on visible cells),
``regularizers``, ``rank_monitor`` (RankMe during training), ``checkpoint`` (atomic files)
and ``distributed`` (torchrun)."""
