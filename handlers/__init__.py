"""cancelgate: a stateful, spec-driven emulator of job-cancellation APIs."""
