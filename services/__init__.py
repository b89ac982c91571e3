"""Use cases: one module per area (activities, live, progress, accounts). They know no HTTP, no SQL and no Ray:
they take narrow ports (services.ports), a unit of work, and raise domain.errors."""
