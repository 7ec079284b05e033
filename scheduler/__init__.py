"""The scheduler and its jobs. Each job opens a unit of work and calls services;
exactly-once comes from the database, never from the scheduler."""
