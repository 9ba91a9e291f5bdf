"""Run in a subprocess by test_decode_budget.py: load each dataset and measure its peak RSS.

argv[1]: the store; argv[2]: a JSON list of dataset ids. Prints one JSON object per id:
``{"id", "rows" | "error", "peak"}`` where ``peak`` is VmHWM minus VmRSS before the load, in
bytes (VmHWM is reset through /proc/self/clear_refs before each load, after every import).
"""

from __future__ import annotations

import gc
import json
import sys


def status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def main() -> None:
    import pyarrow as pa

    import opendata as od

    client = od.Client(store=sys.argv[1], cache=False)
    ids = json.loads(sys.argv[2])
    for ds in ids:
        gc.collect()
        pa.default_memory_pool().release_unused()
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        before = status("VmRSS")
        out: dict[str, object] = {"id": ds}
        try:
            out["rows"] = client.load(ds, format="arrow").num_rows
        except od.OpenDataError as exc:
            out["error"] = str(exc)
        out["peak"] = status("VmHWM") - before
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
