"""Health: liveness, readiness and each dataset's run health."""
