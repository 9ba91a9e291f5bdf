"""The multi-replica soak, shortened to 60 seconds (the 10-minute run is
``benchmarks/registry/bench_soak.py``; both use ``tests/registry/soak.py``).

Three registry processes over one PostgreSQL database, one Redis of the test's own and one local
store; a paced mixed load with keyless publishes and key revocations, while one replica is killed
(SIGKILL) and started again and Redis is killed and started again. Asserts the soak's criteria
(:meth:`Report.failures`): no 5xx outside the announced Redis outage (whose 503s carry
``unavailable`` and ``Retry-After``), no request lost but those a balancer retries after the
kill, every publish on every replica, no revoked key accepted, one rate limit across replicas,
replicas that agree with each other and with the bucket at the end, and RSS that stays flat.
"""

from __future__ import annotations

from pathlib import Path

from tests.registry.soak import soak


def test_three_replicas_under_a_minute_of_mixed_load_with_a_kill_and_a_redis_restart(
    tmp_path: Path,
) -> None:
    report = soak(
        tmp_path,
        duration=60,
        rate=30,
        datasets=120,
        bucket=15,
        publish_every=4,
        revoke_every=8,
        rss_margin=0.15,
    )
    print(report.markdown())
    assert len(report.samples) > 1000
    assert report.windows and all(w.end is not None for w in report.windows)
    assert not report.failures(), report.markdown()
