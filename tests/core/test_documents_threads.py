"""Documents decoded on several threads at once, each type for the first time in the process.

msgspec builds a type's decoding information on its first use, and two threads doing that at
the same moment crash the interpreter (msgspec 0.22: a segfault in about half the runs of
this script before :mod:`opendata_core.documents` built its decoders at import). The client decodes
manifests on a thread pool (``od.versions``) and the registry on worker threads, so the first
decode of a type may well happen on a worker thread.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows at once
    from opendata_core.documents import (
        Index, Manifest, MetadataDocument, MetadataHead, RunRecord, decode_document,
    )
    from opendata_core.errors import FormatError

    manifest = open(sys.argv[1], "rb").read()
    kinds = [MetadataHead, MetadataDocument, Index, RunRecord]
    start = threading.Barrier(4)
    failed = []

    def work():
        start.wait()
        try:
            for _ in range(3):
                decode_document(manifest, Manifest)
        except Exception as exc:
            failed.append(repr(exc))
        for kind in kinds:
            try:
                decode_document(b'{"format": "1.0"}', kind)
            except FormatError:
                pass  # a document without its fields (the type's decoder was still used)
            except Exception as exc:
                failed.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("failed", failed)
    sys.exit(1 if failed else 0)
    """
)


def test_first_decodes_on_several_threads_at_once_do_not_crash() -> None:
    # Each run is a fresh interpreter (the first use is once per process); before the fix,
    # one run in two crashed, so ten clean runs leave a regression a chance of 1 in 1,000.
    manifest = Path(__file__).parent / "fixtures" / "manifest-1.1.json"
    for _ in range(10):
        done = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(manifest)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-2000:])
        assert "failed []" in done.stdout
